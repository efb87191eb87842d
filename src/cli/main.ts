/**
 * The `distkv` command: dispatches to a verb and turns every error into one line on stderr and an
 * exit code (EXIT_CODES), never a stack trace (set DISTKV_DEBUG=1 to see one).
 */
import { readFileSync } from 'node:fs';
import { ConfigError, DistkvError } from '../errors.js';
import { UsageError } from './args.js';
import { BACKUP_VERB } from './backup.js';
import { CLUSTER_VERBS } from './cluster-commands.js';
import { type ClientVerb, refusalsAreUsage, runClientVerb } from './connect.js';
import { KV_VERBS } from './kv-commands.js';
import { RESTORE_VERB } from './restore.js';
import { WATCH_VERBS } from './watch-command.js';

/** EXIT_CODES are what every verb exits with. */
export const EXIT_CODES = {
  /** OK: the command did what it was asked. */
  OK: 0,
  /** FAILED: the key does not exist, a node could not be reached, or the cluster refused the request. */
  FAILED: 1,
  /** USAGE: a mistake in the command line or its files (unknown verb or option, missing or extra argument, bad address, unreadable file, an argument a node refuses as malformed, a value over the node's limit). */
  USAGE: 2,
} as const;

interface Verb {
  help: string;
  run: (argv: readonly string[]) => Promise<number>;
}

const clientVerbs = (verbs: Record<string, ClientVerb>): Record<string, Verb> =>
  Object.fromEntries(
    Object.entries(verbs).map(([name, v]) => [
      name,
      { help: v.summary, run: (argv: readonly string[]) => runClientVerb(v, argv) },
    ]),
  );

// serve and bench load the server and the load generator: imported only when run, so the other
// verbs start fast.
const VERBS: Record<string, Verb> = {
  serve: {
    help: 'run distkv nodes from a config file',
    run: async (argv) => (await import('./serve.js')).serve(argv),
  },
  // The key and watch verbs send only what was typed: a node's 400 is a usage mistake (exit 2).
  ...clientVerbs(refusalsAreUsage(KV_VERBS)),
  ...clientVerbs(refusalsAreUsage(WATCH_VERBS)),
  ...clientVerbs(CLUSTER_VERBS),
  ...clientVerbs({ backup: BACKUP_VERB, restore: RESTORE_VERB }),
  failover: {
    help: "move a shard's leadership to a replica (planned, or --force without the leader)",
    run: async (argv) => (await import('./failover-command.js')).failoverCommand(argv),
  },
  map: {
    help: "write a running peer's live map into this node's data directory (node stopped)",
    run: async (argv) => (await import('./map-command.js')).mapCommand(argv),
  },
  load: {
    help: 'bulk-load JSON lines into empty stores (server stopped)',
    run: async (argv) => (await import('./load.js')).load(argv),
  },
  bench: {
    help: 'load generator: throughput and latency percentiles of a node, a cluster or redis',
    run: async (argv) => (await import('./bench.js')).bench(argv),
  },
};

/** VERSION is the version of this distkv package. */
export const VERSION = (
  JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** MAIN_HELP is the text of `distkv --help`. */
export const MAIN_HELP = `Usage: distkv <command> [options]

Commands:
${Object.entries(VERBS)
  .map(([name, v]) => `  ${name.padEnd(10)}${v.help}`)
  .join('\n')}

Run "distkv <command> --help" for a command's options; "distkv --version" for the version.
Client commands talk to --url HOST:PORT, given before or after the command (or env DISTKV_URL,
comma-separated; default 127.0.0.1:8080).

Exit codes: 0 ok; 1 not found, unreachable or refused by the cluster; 2 usage or file mistake.`;

/**
 * leadingUrls moves `--url ADDR` / `--url=ADDR` given before the command to just after it
 * (`distkv --url A get k` is `distkv get k --url A`, as etcdctl and redis-cli take their endpoint
 * first); the command's own parser then checks them.
 */
function leadingUrls(argv: readonly string[]): string[] {
  const urls: string[] = [];
  let i = 0;
  for (;;) {
    const a = argv[i];
    if (a === '--url' && argv[i + 1] !== undefined) {
      urls.push(a, argv[i + 1]!);
      i += 2;
    } else if (a?.startsWith('--url=') === true) {
      urls.push(a);
      i += 1;
    } else break;
  }
  if (i === 0 || i >= argv.length) return [...argv];
  return [argv[i]!, ...urls, ...argv.slice(i + 1)];
}

/** main runs the CLI with argv (without node and script) and returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const [verb, ...rest] = leadingUrls(argv);
  if (verb === undefined || verb === '--help' || verb === '-h' || verb === 'help') {
    const topic = verb === 'help' ? rest[0] : undefined;
    if (topic !== undefined && VERBS[topic] !== undefined) return main([topic, '--help']);
    (verb === undefined ? process.stderr : process.stdout).write(`${MAIN_HELP}\n`);
    return verb === undefined ? EXIT_CODES.USAGE : EXIT_CODES.OK;
  }
  if (verb === '--version' || verb === '-V' || verb === 'version') {
    process.stdout.write(`distkv ${VERSION} (node ${process.version})\n`);
    return EXIT_CODES.OK;
  }
  const command = VERBS[verb];
  if (command === undefined) {
    process.stderr.write(`distkv: unknown command "${verb}"\nRun "distkv --help" for the commands.\n`);
    return EXIT_CODES.USAGE;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    return report(verb, err);
  }
}

/** report prints a verb's error as one line (plus a hint) and returns its exit code. */
function report(verb: string, err: unknown): number {
  if (process.env.DISTKV_DEBUG === '1') process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  if (err instanceof UsageError) {
    const hint = err.helps ? `Run "distkv ${verb} --help" for usage.\n` : '';
    process.stderr.write(`distkv ${verb}: ${err.message}\n${hint}`);
    return EXIT_CODES.USAGE;
  }
  if (err instanceof ConfigError) {
    process.stderr.write(`distkv ${verb}: ${err.message}\n`);
    return EXIT_CODES.USAGE;
  }
  if (err instanceof DistkvError) {
    process.stderr.write(`distkv ${verb}: ${err.code}: ${err.message}\n`);
    return EXIT_CODES.FAILED;
  }
  const e = err as { name?: unknown; message?: unknown } | null;
  process.stderr.write(
    `distkv ${verb}: ${typeof e?.message === 'string' ? e.message : String(err)} (DISTKV_DEBUG=1 shows where)\n`,
  );
  return EXIT_CODES.FAILED;
}
