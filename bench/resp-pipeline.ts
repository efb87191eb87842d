/**
 * Where a pipelined write's time goes on distkv's RESP path: `redis-benchmark -t set -c 50 -P <N>
 * -d 100 -r 100000` against a distkv started afresh per round (default layout, warmed first), and
 * for the measured run the share of the wall-clock time that each stage of a write was busy:
 *
 *   main      the main thread's CPU (parse, route, encode the worker batches; reply): /proc
 *   worker    the busiest other thread's CPU (the shard worker: apply the ops, encode the log
 *             records; once synced, put them into the memtables, leader and mirrored replica, and
 *             answer): /proc
 *   fdatasync the commit log's syncs in progress (the sum of their durations, from /metrics)
 *   other     every other thread (V8's garbage collector and compiler, libuv's pool)
 *
 * A closed-loop client with 50 × N writes in flight keeps them in one group that moves through
 * these stages in turn: when main + worker + fdatasync add up to about 100% of the wall-clock
 * time while none of them is near 100% alone, the stages run one after another, and the rate is
 * (writes per group) ÷ (the sum of the stages' times per group), not the slowest stage's rate.
 * Also reported: SETs per fdatasync (the group commit's size) and CPU µs per SET per stage.
 *
 * `--build DIR` measures another checkout (its bin/ and dist/), `--config TOML` appends settings
 * to the layout's config (e.g. `[storage]\ndurability = "interval"`), `--test get` measures GET
 * over the keys a warm-up SET run wrote.
 *
 * Usage: node dist/bench/resp-pipeline.js [--pipeline 16] [--requests 300000] [--warmup 50000] [--rounds 3] [--build DIR] [--config TOML] [--test set|get]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { arg, count } from './lib/args.js';
import { ROOT } from './lib/processes.js';
import { median } from './lib/compare-stats.js';
import { distkvTarget, logSyncs, type LogSyncs, threadSeconds } from './lib/resp-servers.js';

const PIPELINE = count('pipeline', 16);
const REQUESTS = count('requests', 300000);
const WARMUP = count('warmup', 50000, 0);
const ROUNDS = count('rounds', 3);
const BUILD = resolve(arg('build', ROOT));
const CONFIG = arg('config', '').replaceAll('\\n', '\n');
const TEST = arg('test', 'set');

/** Round is one round's figures: rate, busy shares of the wall-clock time (%), µs per request. */
type Round = Record<string, number>;

function benchmark(port: number, test: string, n: number): number {
  const args = ['-h', '127.0.0.1', '-p', String(port), '-t', test, '-c', '50', '-P', String(PIPELINE)];
  args.push('-d', '100', '-r', '100000', '-n', String(n), '--csv');
  const r = spawnSync('redis-benchmark', args, { encoding: 'utf8', timeout: 1_800_000 });
  if (r.status !== 0) throw new Error(`redis-benchmark ${args.join(' ')} failed: ${r.stderr}`);
  const m = /^"[A-Z]+","([\d.]+)"/m.exec(r.stdout);
  if (m === null) throw new Error(`unexpected output:\n${r.stdout}`);
  return Number(m[1]);
}

/** stages returns each stage's CPU seconds between two snapshots of a process's threads. */
function stages(pid: number, t0: Map<number, number>, t1: Map<number, number>): Record<string, number> {
  const used = [...t1].map(([tid, s]) => [tid, s - (t0.get(tid) ?? 0)] as const);
  const main = used.find(([tid]) => tid === pid)?.[1] ?? 0;
  const others = used.filter(([tid]) => tid !== pid).sort((a, b) => b[1] - a[1]);
  const worker = others[0]?.[1] ?? 0;
  const other = others.slice(1).reduce((sum, [, s]) => sum + s, 0);
  return { main, worker, other };
}

async function round(dir: string, n: number): Promise<Round> {
  const target = distkvTarget('distkv', BUILD, dir, [], CONFIG);
  const { child, port, http } = await target.start();
  try {
    const pid = child.proc.pid ?? 0;
    benchmark(port, 'set,get', WARMUP);
    const threads0 = threadSeconds(pid);
    const syncs0: LogSyncs = await logSyncs(http);
    const t0 = performance.now();
    const rate = benchmark(port, TEST, REQUESTS);
    const wall = (performance.now() - t0) / 1000;
    const threads1 = threadSeconds(pid);
    const syncs1 = await logSyncs(http);
    const s = stages(pid, threads0, threads1);
    const syncs = syncs1.count - syncs0.count;
    const syncSeconds = syncs1.seconds - syncs0.seconds;
    const pct = (x: number): number => (100 * x) / wall;
    const us = (x: number): number => (1e6 * x) / REQUESTS;
    const r: Round = {
      rate,
      'main %': pct(s.main!),
      'worker %': pct(s.worker!),
      'fdatasync %': pct(syncSeconds),
      'sum %': pct(s.main! + s.worker! + syncSeconds),
      'other %': pct(s.other!),
      'per fdatasync': syncs > 0 ? REQUESTS / syncs : 0,
      'main µs': us(s.main!),
      'worker µs': us(s.worker!),
      'other µs': us(s.other!),
      'fdatasync ms': syncs > 0 ? (1000 * syncSeconds) / syncs : 0,
    };
    process.stdout.write(
      `round ${n}: ${Object.entries(r)
        .map(([k, v]) => `${k} ${v.toFixed(k === 'rate' ? 0 : 1)}`)
        .join(', ')}\n`,
    );
    return r;
  } finally {
    await child.stop();
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'distkv-resp-pipeline-'));
  process.stdout.write(
    `# resp-pipeline | node ${process.version}, ${availableParallelism()} CPUs; ${BUILD}; redis-benchmark -t ${TEST} -c 50 -P ${PIPELINE} -d 100 -r 100000 -n ${REQUESTS} after ${WARMUP} of set,get; ${ROUNDS} rounds, a fresh server each${CONFIG === '' ? '' : `; config ${JSON.stringify(CONFIG)}`}\n`,
  );
  try {
    const rounds: Round[] = [];
    for (let i = 1; i <= ROUNDS; i++) rounds.push(await round(dir, i));
    const keys = Object.keys(rounds[0]!);
    process.stdout.write(`\n| ${keys.join(' | ')} |\n| ${keys.map(() => '---').join(' | ')} |\n`);
    process.stdout.write(
      `| ${keys.map((k) => median(rounds.map((r) => r[k]!)).toFixed(k === 'rate' ? 0 : 1)).join(' | ')} |\n`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
