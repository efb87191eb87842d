#!/usr/bin/env node
// Runs one compiled benchmark, building the checkout first: what every `npm run bench:NAME` calls.
//   node scripts/bench-run.mjs SCRIPT [ARGS...]    SCRIPT = a path under dist/bench without .js,
//                                                  e.g. cas-bench or baseline/server
// A run builds (npm run build) and then runs dist/bench/SCRIPT.js with ARGS in this process (so
// Ctrl-C and SIGTERM reach the benchmark's own handlers once, and its exit code is the run's).
// --help (or -h) answers at once when dist/bench/SCRIPT.js is there and its header (the first block
// comment, which is the help: bench/lib/args.ts) is the one of its source bench/SCRIPT.ts: a user
// asking for the usage does not wait for a build (8 s with nothing to compile, tens of seconds
// otherwise). When it is missing or its header differs, the help comes after a build; if that build
// fails, the last build's help is printed with a note saying so. (Not file times: tsc's incremental
// build leaves an output alone when its source was touched but not changed.)
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const [name, ...args] = process.argv.slice(2);
if (name === undefined || name.startsWith('-')) {
  process.stderr.write(
    'bench-run: usage: node scripts/bench-run.mjs SCRIPT [ARGS...] (SCRIPT: e.g. cas-bench)\n',
  );
  process.exit(2);
}
const script = join(ROOT, 'dist', 'bench', `${name}.js`);
const source = join(ROOT, 'bench', `${name}.ts`);

/** headerOf returns a file's first block comment as written, '' without one, undefined without the file. */
const headerOf = (file) => {
  if (!existsSync(file)) return undefined;
  return /\/\*[\s\S]*?\*\//.exec(readFileSync(file, 'utf8'))?.[0] ?? '';
};

/** build runs `npm run build` in the checkout and returns its exit status (0: built). */
const build = () =>
  spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' }).status ?? 1;

if (!existsSync(source) && !existsSync(script)) {
  process.stderr.write(`bench-run: no benchmark bench/${name}.ts (nor dist/bench/${name}.js)\n`);
  process.exit(2);
}
const help = args.includes('--help') || args.includes('-h');
const built = headerOf(script);
const fresh = built !== undefined && built === (headerOf(source) ?? built);
const status = help && fresh ? 0 : build();
if (status !== 0) {
  if (!(help && built !== undefined)) {
    process.stderr.write(`bench-run: the build (npm run build) failed: fix it and run again\n`);
    process.exit(status);
  }
  process.stderr.write(`bench-run: the build failed; the help below is the last build's (${name}.js)\n`);
}
if (!existsSync(script)) {
  process.stderr.write(`bench-run: no benchmark dist/bench/${name}.js after the build\n`);
  process.exit(2);
}
// The benchmark reads its own path and options from process.argv (bench/lib/args.ts).
process.argv = [process.argv[0] ?? process.execPath, script, ...args];
await import(pathToFileURL(script).href);
