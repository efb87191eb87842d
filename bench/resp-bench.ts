/**
 * `npm run bench:resp`: distkv's RESP listener against redis-server, with redis-server's own tool.
 *
 *  1. `redis-benchmark -t set,get -c 50 -P <1|16> -d 100 -r 100000 -n N` against distkv's RESP
 *     listener (the default layout: 4 shards, leaders and replicas in one process, durability
 *     fsync) and against a redis-server started here (appendfsync always, AOF in a temp dir, on a
 *     free loopback port); the targets alternate round by round (reversed every other round).
 *  2. RESP GET against HTTP GET on the same distkv process, with distkv's own load generator
 *     (same connections, same keys, get:100), alternated the same way.
 * Reported: median requests/s per target and the median of the per-round ratios. The table is
 * printed; with `--doc` it is also written into docs/performance.md between the bench:resp markers
 * (without it a run leaves the doc alone).
 *
 * Every target of step 1 is started afresh for each round (and pipeline depth), in an empty data
 * dir, and stopped after it: one process kept for every round carried its bias (which core its
 * threads shared with other jobs, what its JIT settled on, its LSM levels) into each of them, so
 * the rounds of one run were not independent samples. A fresh server first takes `--warmup`
 * requests of each test, unmeasured (its JIT compiles the request path: the first 20,000 SETs of
 * a cold distkv ran at a fifth of its warm rate). Each round then runs SET, then GET over the keys
 * that SET wrote. For distkv targets the commit log's fdatasyncs during SET are read from /metrics
 * (`distkv_store_wal_syncs_total`: the worker's one log, reported by each of its stores; the
 * largest over the stores is one worker's count, all of them with the default one worker on 2
 * CPUs), reported as SETs per fdatasync: how large the group commits were.
 *
 * A third target is the node:net + Map baseline (bench/baseline/resp-server.ts): what a Node.js
 * RESP server reaches here without worker threads or storage (the "baseline ÷ redis" column); its
 * SETs are acknowledged after one write and fdatasync per turn, as redis-server's with appendfsync
 * always, so both columns compare durable SETs.
 * `--before DIR` adds a fourth target to step 1: distkv built from another checkout (DIR holds its
 * bin/ and dist/, e.g. the branch point), same layout, alternated with the other two, so a change
 * is reported as after ÷ before from one run. `--inline 1` runs every distkv target with its stores
 * on the main thread (no worker hop; default 0). `--http 0` skips step 2 (default 1).
 *
 * Usage: node dist/bench/resp-bench.js [--requests 200000] [--warmup 30000] [--rounds 3] [--seconds 10] [--before DIR] [--inline 1] [--http 0] [--doc]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_LOAD, runLoad } from '../src/loadgen/loadgen.js';
import { arg, choice, count, flag } from './lib/args.js';
import { requireTools } from './lib/tools.js';
import { writeDocBlock } from './lib/doc-block.js';
import { median } from './lib/compare-stats.js';
import { ROOT } from './lib/processes.js';
import {
  baselineTarget,
  cpuSeconds,
  distkvTarget,
  logSyncs,
  redisTarget,
  RESP_OFFSET,
  type Target,
} from './lib/resp-servers.js';

const REQUESTS = count('requests', 200000);
const WARMUP = count('warmup', 30000, 0);
const ROUNDS = count('rounds', 3);
const SECONDS = count('seconds', 10);
const BEFORE = arg('before', '');
const HTTP = choice('http', '1', ['1', '0']) === '1';
/** SERVE_ARGS are extra `distkv serve` flags for every distkv target (`--inline 1`: stores on the main thread). */
const SERVE_ARGS = choice('inline', '0', ['0', '1']) === '1' ? ['--inline'] : [];
requireTools(['redis-server', 'redis-benchmark']);

/** Run is one target's figures in one round: requests/s and server CPU µs per request, per test. */
type Run = Record<string, number>;

/**
 * redisBenchmark runs redis-benchmark once per test (SET, then GET) and returns requests/s and the
 * server's CPU µs per request of each (`SET`, `GET`, `SET cpu`, `GET cpu`), and of its main
 * thread alone (`SET main`, `GET main`); for a distkv target (`http` its HTTP port) also the SETs
 * per commit log fdatasync (`SET syncs`).
 */
async function redisBenchmark(port: number, pid: number, pipeline: number, http: number): Promise<Run> {
  const out: Run = {};
  const argsOf = (tests: string, n: number): string[] => {
    const args = ['-h', '127.0.0.1', '-p', String(port), '-t', tests, '-c', '50'];
    args.push('-P', String(pipeline), '-d', '100', '-r', '100000', '-n', String(n), '--csv');
    return args;
  };
  if (WARMUP > 0) {
    const w = spawnSync('redis-benchmark', argsOf('set,get', WARMUP), { encoding: 'utf8', timeout: 600_000 });
    if (w.status !== 0) throw new Error(`the warm-up redis-benchmark failed: ${w.stderr}`);
  }
  for (const test of ['SET', 'GET']) {
    const args = argsOf(test.toLowerCase(), REQUESTS);
    const syncs0 = http > 0 && test === 'SET' ? (await logSyncs(http)).count : 0;
    const cpu0 = cpuSeconds(pid);
    const main0 = cpuSeconds(pid, true);
    const r = spawnSync('redis-benchmark', args, { encoding: 'utf8', timeout: 1_800_000 });
    const cpu = cpuSeconds(pid) - cpu0;
    const main = cpuSeconds(pid, true) - main0;
    if (r.status !== 0) throw new Error(`redis-benchmark ${args.join(' ')} failed: ${r.stderr}`);
    const m = new RegExp(`^"${test}","([\\d.]+)"`, 'm').exec(r.stdout);
    if (m === null) throw new Error(`unexpected output:\n${r.stdout}`);
    out[test] = Number(m[1]);
    out[`${test} cpu`] = (cpu * 1e6) / REQUESTS;
    out[`${test} main`] = (main * 1e6) / REQUESTS;
    if (http > 0 && test === 'SET')
      out['SET syncs'] = REQUESTS / Math.max(1, (await logSyncs(http)).count - syncs0);
  }
  return out;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'distkv-resp-bench-'));
  const header = `node ${process.version}, ${availableParallelism()} CPUs (${cpus()[0]?.model ?? '?'}); ${SERVE_ARGS.length > 0 ? 'distkv --inline; ' : ''}redis-benchmark -c 50 -d 100 -r 100000 -n ${REQUESTS}; ${ROUNDS} rounds alternated, each server started afresh per round and warmed with ${WARMUP} requests of each test, medians; the machine was shared with other jobs`;
  process.stdout.write(`# bench:resp | ${header}\n`);
  try {
    const targets: Target[] = [
      distkvTarget('distkv RESP', ROOT, dir, SERVE_ARGS),
      redisTarget(dir),
      baselineTarget(dir),
    ];
    if (BEFORE !== '') targets.push(distkvTarget('distkv RESP before', BEFORE, dir, SERVE_ARGS));

    const rows: string[] = [];
    const cpuRows: string[] = [];
    for (const pipeline of [1, 16]) {
      const runs = new Map<string, Run[]>();
      for (let round = 0; round < ROUNDS; round++) {
        const order = round % 2 === 0 ? targets : [...targets].reverse();
        for (const t of order) {
          const { child, port, http } = await t.start();
          let r: Run;
          try {
            r = await redisBenchmark(port, child.proc.pid ?? 0, pipeline, http);
          } finally {
            await child.stop();
          }
          const syncs =
            r['SET syncs'] === undefined ? '' : `; ${r['SET syncs'].toFixed(0)} SETs per fdatasync`;
          process.stdout.write(
            `-P ${pipeline} round ${round + 1} ${t.name}: SET ${r.SET} GET ${r.GET} req/s; CPU per request SET ${r['SET cpu']!.toFixed(1)} GET ${r['GET cpu']!.toFixed(1)} µs (main thread ${r['SET main']!.toFixed(1)}, ${r['GET main']!.toFixed(1)})${syncs}\n`,
          );
          runs.set(t.name, [...(runs.get(t.name) ?? []), r]);
        }
      }
      const d = runs.get(targets[0]!.name)!;
      const r = runs.get(targets[1]!.name)!;
      const n = runs.get(targets[2]!.name)!;
      const b = BEFORE === '' ? undefined : runs.get(targets[3]!.name)!;
      for (const test of ['GET', 'SET']) {
        // n/a: a divisor measured 0 (a CPU time under /proc's 10 ms tick at a small --requests)
        const ratio = (xs: Run[], ys: Run[], key = test): string => {
          const r = median(xs.map((x, i) => x[key]! / ys[i]![key]!));
          return Number.isFinite(r) ? r.toFixed(2) : 'n/a';
        };
        const rate = (xs: Run[]): number => Math.round(median(xs.map((x) => x[test]!)));
        const cells = [test, pipeline, rate(d), rate(r), `**${ratio(d, r)}**`, ratio(n, r)];
        if (b !== undefined) cells.push(rate(b), ratio(b, r), `**${ratio(d, b)}**`);
        rows.push(`| ${cells.join(' | ')} |`);
        const cpu = `${test} cpu`;
        const us = (xs: Run[]): string => median(xs.map((x) => x[cpu]!)).toFixed(1);
        const main = `${test} main`;
        const mainUs = (xs: Run[]): string => median(xs.map((x) => x[main]!)).toFixed(1);
        // SETs per commit log fdatasync (distkv only): how large its group commits were.
        const perSync = (xs: Run[]): string =>
          test === 'SET' ? median(xs.map((x) => x['SET syncs']!)).toFixed(0) : '';
        const cpuCells = [
          test,
          pipeline,
          us(d),
          mainUs(d),
          perSync(d),
          us(r),
          us(n),
          `**${ratio(d, r, cpu)}**`,
        ];
        if (b !== undefined) cpuCells.push(us(b), mainUs(b), perSync(b), `**${ratio(d, b, cpu)}**`);
        cpuRows.push(`| ${cpuCells.join(' | ')} |`);
      }
    }

    const columns =
      BEFORE === ''
        ? [
            '| test | -P | distkv RESP req/s | redis-server req/s | distkv ÷ redis | baseline ÷ redis |',
            '| ---- | -- | --- | --- | --- | --- |',
          ]
        : [
            '| test | -P | distkv RESP req/s | redis-server req/s | distkv ÷ redis | baseline ÷ redis | before req/s | before ÷ redis | after ÷ before |',
            '| ---- | -- | --- | --- | --- | --- | --- | --- | --- |',
          ];
    const cpuColumns = [
      `| test | -P | distkv µs | of which main thread | SETs per fdatasync | redis-server µs | baseline µs | distkv ÷ redis${BEFORE === '' ? '' : ' | before µs | of which main thread | SETs per fdatasync | after ÷ before'} |`,
      `| ---- | -- | --- | --- | --- | --- | --- | ---${BEFORE === '' ? '' : ' | --- | --- | --- | ---'} |`,
    ];
    const table = [
      `Measured by \`npm run bench:resp${BEFORE === '' ? '' : ' -- --before <branch point>'}\` (${new Date().toISOString().slice(0, 10)}): ${header}.`,
      '',
      ...columns,
      ...rows,
      '',
      'Server CPU (user + system from /proc: all threads, and the main thread alone, where the RESP listener runs) per request, medians of the rounds; lower is better (n/a: a divisor measured 0, /proc counts CPU in 10 ms ticks: raise --requests):',
      '',
      ...cpuColumns,
      ...cpuRows,
    ];
    if (HTTP) table.push('', await httpComparison(targets[0]!));
    const text = table.join('\n');
    process.stdout.write(`\n${text}\n`);
    if (flag('doc')) {
      writeDocBlock('resp', text);
      process.stdout.write('\nwritten to docs/performance.md\n');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * httpComparison measures RESP GET against HTTP GET on one process of `target` (both protocols on
 * the same process, alternated, so its bias is shared) and returns the sentence.
 */
async function httpComparison(target: Target): Promise<string> {
  const { child, http: lp } = await target.start();
  try {
    return await compareProtocols(lp);
  } finally {
    await child.stop();
  }
}

/** compareProtocols measures RESP GET against HTTP GET on the distkv process at HTTP port `lp`. */
async function compareProtocols(lp: number): Promise<string> {
  const base = {
    ...DEFAULT_LOAD,
    mix: 'get:100',
    keys: 100000,
    valueSize: 100,
    concurrency: 50,
    threads: 1,
  };
  await runLoad({
    ...base,
    url: `http://127.0.0.1:${lp}`,
    preload: true,
    durationS: 0.001,
    warmupS: 0,
    requests: 1,
  });
  const proto = [
    { name: 'RESP', url: `redis://127.0.0.1:${lp + RESP_OFFSET}` },
    { name: 'HTTP', url: `http://127.0.0.1:${lp}` },
  ];
  const gets = new Map<string, number[]>();
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? proto : [...proto].reverse();
    for (const p of order) {
      const r = await runLoad({ ...base, url: p.url, preload: false, durationS: SECONDS, warmupS: 2 });
      process.stdout.write(
        `GET round ${round + 1} ${p.name}: ${Math.round(r.throughput)} req/s, ${r.errors} errors\n`,
      );
      gets.set(p.name, [...(gets.get(p.name) ?? []), r.throughput]);
    }
  }
  const resp = gets.get('RESP')!;
  const http = gets.get('HTTP')!;
  const getRatio = median(resp.map((x, i) => x / http[i]!));
  return `RESP GET ÷ HTTP GET on the same distkv process (distkv's load generator, 1 thread, 50 connections, get:100 over 100000 preloaded keys, ${SECONDS} s after 2 s warm-up): **${getRatio.toFixed(2)}** (medians ${Math.round(median(resp))} vs ${Math.round(median(http))} req/s).`;
}

await main();
