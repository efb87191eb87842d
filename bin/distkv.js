#!/usr/bin/env node
// The distkv command. The TypeScript sources are bundled into bundle/ by `npm run build` (run
// automatically by `npm ci`, `npm start` and `npm test`; scripts/bundle.mjs says why a bundle).
import { existsSync } from 'node:fs';

const entry = new URL('../bundle/src/cli/main.js', import.meta.url);
// A checkout not built yet is a setup mistake, exit 2 as a usage or file mistake is (README, "Exit
// codes"): 1 means the cluster refused or a key was not found, which a script would take it for.
if (!existsSync(entry)) {
  process.stderr.write('distkv: bundle/ is missing; run "npm run build" first\n');
  process.exit(2);
}
// A closed pipe (distkv scan | head) ends the command quietly, as other CLIs do. Any other failed
// write (stdout redirected to a file on a full disk, or over `ulimit -f`) ends it with one line and
// exit 2, a file mistake, as backup's own file does: it was rethrown, a stack trace with exit 1
// (as if the cluster had refused), and `distkv scan --all > dump` left a short dump that said nothing.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0);
  const command =
    process.argv[2] !== undefined && !process.argv[2].startsWith('-') ? ` ${process.argv[2]}` : '';
  process.stderr.write(
    `distkv${command}: cannot write to standard output (${err.message}): what it printed is incomplete\n`,
  );
  process.exit(2);
});
// A standard error that cannot be written ends nothing and changes no exit code: there is nowhere
// left to say so. Its error was uncaught, so the command exited 1 ("refused") whatever it did:
// `distkv scan 2>&1 | head -4` after its page was read (its "(more: ...)" note came after head had
// gone), a usage mistake instead of 2. A write after it is dropped (the stream is destroyed).
process.stderr.on('error', () => {});
// Ctrl-C or SIGTERM while the modules below load (a second on a busy machine) is held for `serve`
// (always the first argument: the options that may come before a command are client options), not
// Node's default exit 130/143: a start interrupted then stops cleanly, exit 0 (held-signals.ts).
// Other commands keep the default: they have nothing to stop cleanly yet.
let held;
if (process.argv[2] === 'serve') {
  const { holdSignals } = await import(new URL('../bundle/src/cli/held-signals.js', import.meta.url).href);
  held = holdSignals();
}
const { main } = await import(entry.href);
const code = await main(process.argv.slice(2), held);
// A signal from here on is held (interrupt.ts, afterWork, called by main): the command exits with
// its own code once flushed, not 130 for a result it printed. A second signal exits at once.
// process.exit drops what a pipe has not taken yet (Node queues a write to a full pipe in memory):
// `distkv scan --all | gzip` would end short with exit 0. Exit once stdout and stderr are flushed
// (an empty write's callback runs after every write queued before it).
const flushed = (stream) => new Promise((resolve) => stream.write('', resolve));
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(code);
