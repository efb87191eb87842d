#!/usr/bin/env node
// Runs every mitata micro benchmark (dist/bench/micro/**/*.bench.js), each in its own process,
// after building the checkout (npx tsc).
//   node scripts/bench-micro.mjs [filter]     e.g. "routing" runs only files whose path contains it
// --help (or -h) prints this and exits; an option, a second filter or a filter no file matches is
// refused with exit code 2 before anything runs.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const USAGE = `Usage: npm run bench:micro [-- FILTER]   (node scripts/bench-micro.mjs [FILTER])

Builds the checkout (npx tsc), then runs every mitata micro benchmark,
bench/micro/<area>/<fn>.bench.ts, each in its own process, and prints mitata's
time per iteration (and its spread) for each function. FILTER (default: all)
runs only the files whose path contains it, e.g. "routing" or "storage/bloom".
There are no options.
`;

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const refuse = (message) => {
  process.stderr.write(`bench-micro: ${message} (--help for usage)\n`);
  process.exit(2);
};
const option = args.find((a) => a.startsWith('-'));
if (option !== undefined) refuse(`unknown option ${option}: the only argument is a filter on file paths`);
if (args.length > 1) refuse(`one filter at most, got ${args.length}: ${args.join(' ')}`);
const filter = args[0] ?? '';

const build = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
if (build.status !== 0) {
  process.stderr.write(`bench-micro: the build (npx tsc -p tsconfig.json) failed: fix it and run again\n`);
  process.exit(build.status ?? 1);
}
const all = readdirSync('dist/bench/micro', { recursive: true })
  .filter((f) => f.endsWith('.bench.js'))
  .sort();
const files = all.filter((f) => f.includes(filter));
if (files.length === 0) refuse(`no micro benchmark path contains "${filter}"; the files: ${all.join(', ')}`);
for (const f of files) {
  const r = spawnSync(process.execPath, [join('dist/bench/micro', f)], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
