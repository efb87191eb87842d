#!/usr/bin/env node
// Where a test run's CPU goes, by kind of Node.js process: servers (`distkv serve`), other distkv
// commands, test files, benchmarks. Loaded into every Node.js process of a run through NODE_OPTIONS,
// it writes each process's CPU time (all its threads) and wall time to CPU_CENSUS_DIR/PID.json,
// every second and at exit (a process killed with SIGKILL keeps its last second's figures); run as
// a script, it sums a directory of them (docs/performance.md, "Session 75"). The `node --test`
// runner's own process writes no figure (seen on Node 20): its files' processes do.
//   CPU_CENSUS_DIR=/tmp/census NODE_OPTIONS=--import=$PWD/scripts/cpu-census.mjs node scripts/test.mjs e2e
//   node scripts/cpu-census.mjs /tmp/census
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setInterval } from 'node:timers';
import { pathToFileURL } from 'node:url';
import { isMainThread } from 'node:worker_threads';

const asScript = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;

/** kindOf names the kind of process a command line is. */
const kindOf = (argv) => {
  if (/bin\/distkv\.js serve\b/.test(argv)) return 'distkv serve';
  if (argv.includes('bin/distkv.js')) return 'distkv (other commands)';
  if (argv.includes('.test.js')) return 'test file';
  if (argv.includes('/bench/')) return 'benchmark';
  return 'other';
};

if (asScript) {
  const dir = process.argv[2];
  if (dir === undefined) {
    process.stderr.write(
      'usage: node scripts/cpu-census.mjs DIR (written by a run with CPU_CENSUS_DIR=DIR)\n',
    );
    process.exit(2);
  }
  const kinds = new Map();
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.json'))) {
    const p = JSON.parse(readFileSync(join(dir, f), 'utf8'));
    const k = kinds.get(kindOf(p.argv)) ?? { count: 0, cpu: 0, wall: 0 };
    k.count += 1;
    k.cpu += p.user + p.sys;
    k.wall += p.wall;
    kinds.set(kindOf(p.argv), k);
  }
  const total = [...kinds.values()].reduce((s, k) => s + k.cpu, 0);
  process.stdout.write(`${total.toFixed(0)} CPU-s in Node.js processes\n`);
  for (const [kind, k] of [...kinds].sort((a, b) => b[1].cpu - a[1].cpu))
    process.stdout.write(
      `${k.cpu.toFixed(0).padStart(6)} CPU-s ${String(k.count).padStart(5)} processes ` +
        `(${(k.cpu / k.count).toFixed(2)} CPU-s, ${(k.wall / k.count).toFixed(1)} s each)  ${kind}\n`,
    );
} else if (isMainThread && process.env.CPU_CENSUS_DIR !== undefined) {
  const dir = process.env.CPU_CENSUS_DIR;
  mkdirSync(dir, { recursive: true });
  const started = performance.now();
  const file = join(dir, `${String(process.pid)}.json`);
  const argv = [...process.execArgv, ...process.argv.slice(1)].join(' ').slice(0, 300);
  const write = () => {
    const u = process.cpuUsage();
    const wall = (performance.now() - started) / 1000;
    try {
      writeFileSync(file, JSON.stringify({ argv, user: u.user / 1e6, sys: u.system / 1e6, wall }));
    } catch {
      // The census must not change what the process does (its exit code): a figure lost is lost.
    }
  };
  setInterval(write, 1000).unref();
  process.on('exit', write);
}
