#!/usr/bin/env node
// What each test file of a tier costs: runs every file of dist/test/TIER on its own (PARALLEL at a
// time, 2 by default) under /usr/bin/time, and prints one line per file, most CPU first: CPU seconds
// (user + system of the file's process and every child it waited for: its servers and CLI commands),
// wall seconds, exit code. Build first (`npx tsc -p tsconfig.json`). For deciding how `npm test`
// runs a tier (scripts/test.mjs) and which files are worth making cheaper; docs/performance.md,
// "Session 72: the test suite's time".
//   node scripts/test-cost.mjs e2e [PARALLEL]
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const [tier, parallelText = '2'] = process.argv.slice(2);
const parallel = Number(parallelText);
const dir = join('dist', 'test', tier ?? '');
if (tier === undefined || !existsSync(dir) || !Number.isInteger(parallel) || parallel < 1) {
  process.stderr.write('usage: node scripts/test-cost.mjs unit|integration|e2e|robustness [PARALLEL]\n');
  process.exit(2);
}
if (!existsSync('/usr/bin/time')) {
  process.stderr.write('test-cost: /usr/bin/time is missing (Debian package "time")\n');
  process.exit(2);
}
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.test.js'))
  .sort();

/** costOf runs one file alone and resolves with its CPU and wall seconds and its exit code. */
const costOf = (file) =>
  new Promise((resolve) => {
    const args = [
      '-f',
      'TEST-COST %e %U %S',
      process.execPath,
      '--enable-source-maps',
      '--test',
      join(dir, file),
    ];
    const child = spawn('/usr/bin/time', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let tail = '';
    child.stderr.on('data', (d) => {
      tail = (tail + String(d)).slice(-4096);
    });
    child.on('close', (code) => {
      const m = /TEST-COST ([\d.]+) ([\d.]+) ([\d.]+)/.exec(tail);
      const [wall, user, sys] = m === null ? [NaN, NaN, NaN] : m.slice(1).map(Number);
      resolve({ file, cpu: user + sys, wall, code: code ?? 1 });
    });
  });

const results = [];
let next = 0;
const lane = async () => {
  while (next < files.length) {
    const file = files[next++];
    const r = await costOf(file);
    results.push(r);
    process.stderr.write(`${String(results.length)}/${String(files.length)} ${file}\n`);
  }
};
const started = performance.now();
await Promise.all(Array.from({ length: parallel }, lane));
results.sort((a, b) => b.cpu - a.cpu);
let cpu = 0;
let wall = 0;
for (const r of results) {
  cpu += r.cpu;
  wall += r.wall;
  process.stdout.write(
    `${r.cpu.toFixed(1).padStart(7)} s CPU ${r.wall.toFixed(1).padStart(7)} s wall  exit ${String(r.code)}  ${r.file}\n`,
  );
}
const failed = results.filter((r) => r.code !== 0).length;
process.stdout.write(
  `${String(results.length)} files: ${cpu.toFixed(0)} s of CPU, ${wall.toFixed(0)} s of wall one by one, ${(
    (performance.now() - started) /
    1000
  ).toFixed(0)} s in all at ${String(parallel)} at a time; ${String(failed)} failed\n`,
);
process.exit(failed === 0 ? 0 : 1);
