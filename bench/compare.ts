/**
 * `npm run bench:compare`: issue 18's write-path table in one command. Each row is one workload on
 * one server (bench/lib/compare-rows.ts): distkv PUT with fsync on the default layout, with
 * `--inline`, without replicas, with the durability interval; redis-server SET with appendfsync
 * always and everysec (redis-benchmark -c 50 -P 1 -d 100 -r KEYS); GET on distkv default,
 * `--inline` and the bare uWS+Map server; 10 connections writing in a closed loop; PUT on the bare
 * server acknowledging after one write (and fdatasync) per turn, the Node.js ceiling. HTTP rows use
 * wrk -t1 -c50 (-c10 for the closed-loop row) with 100-byte values and random keys. The "mix" rows
 * (issue 7's comparison through the load generator) run on request.
 *
 * Every server runs in its own process with its own temp dir and free loopback port for the whole
 * run. Rounds run every selected row once, in catalogue order on even rounds and reversed on odd
 * ones, so machine noise hits the rows alike; every round is printed, then the medians and the
 * same-run ratios issue 18 asks for (median of the per-round ratios).
 *
 * `--against DIR` runs every distkv row for a second build too (DIR: a checkout of distkv with
 * `npx tsc` run in it and node_modules in place), the two builds side by side in each round, and
 * reports after ÷ before per row, "after" being this checkout. The run is bounded: it stops starting
 * measurements after `--max-minutes` (default: the planned time plus a half) and reports what it has.
 *
 * Usage: node dist/bench/compare.js [--rows write|mix|all|distkv|id,id...] [--rounds 3] [--seconds 10]
 *        [--warmup 1] [--keys 100000] [--against DIR] [--max-minutes M] [--mix get:90,set:10]
 *        [--wal-segment-bytes N (default: the config's, 64 MiB)] [--dist zipf:0.99] [--json FILE] [--doc]
 *
 * The table is printed (and with `--json FILE` written there as JSON); with `--doc`
 * (`npm run bench:compare -- --doc`) it is also written into docs/performance.md between the
 * bench:compare write-path markers (a section at the end the first time); without it a run leaves
 * the doc alone.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULT_LOAD, runLoad } from '../src/loadgen/loadgen.js';
import { arg, count, flag, usageError } from './lib/args.js';
import {
  distkvConfig,
  type Row,
  RATIOS,
  ROW_GROUPS,
  ROWS,
  RUN_ORDER,
  type ServerSpec,
} from './lib/compare-rows.js';
import { describeRatio, formatRate, median, roundOrder, selectRows } from './lib/compare-stats.js';
import { type Child, freePort, ROOT, startProcess } from './lib/processes.js';
import { hasRedis, startRedis } from './lib/redis.js';
import { hasRedisBenchmark, runRedisBenchmark } from './lib/redis-benchmark.js';
import { hasWrk, runWrk } from './lib/wrk.js';
import { writeDocBlock } from './lib/doc-block.js';

const SECONDS = count('seconds', 10);
const ROUNDS = count('rounds', 3);
const WARMUP = count('warmup', 1, 0);
const KEYS = count('keys', 100000);
const MIX = arg('mix', 'get:90,set:10');
const DIST = arg('dist', 'zipf:0.99');
const AGAINST = arg('against', '');
const JSON_OUT = arg('json', '');
/** SEGMENT_BYTES, when given, is every distkv server's wal_segment_bytes (both builds'): small enough that the measured writes go into rolled (preallocated) segments. */
const SEGMENT_BYTES = count('wal-segment-bytes', 0) || undefined;
/** MAX_MINUTES bounds the run (0: the planned time plus a half, plus 3 minutes). */
const MAX_MINUTES = count('max-minutes', 0);
/** SELECTED are the ids of the rows `--rows` names, checked against the catalogue before anything starts. */
const SELECTED = ((): string[] => {
  try {
    return selectRows(
      arg('rows', 'write'),
      ROWS.map((r) => r.id),
      ROW_GROUPS,
    );
  } catch (err) {
    return usageError((err as Error).message);
  }
})();
const KEY_PREFIX = 'key'; // bench/wrk/*.lua ask for key<N>

/** Build is one checkout whose distkv rows are measured. */
interface Build {
  name: string;
  dir: string;
  commit: string;
}

/** Measurement is one row's figures in one round. */
interface Measurement {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

interface Running {
  port: number;
  child: Child;
}

/** Job is one measurement slot of a round: a row on a build. */
interface Job {
  row: Row;
  build: Build;
}

const commitOf = (dir: string): string =>
  (
    (spawnSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout as
      string | null) ?? ''
  ).trim() || '?';

function builds(): Build[] {
  const own: Build = { name: AGAINST === '' ? 'this' : 'after', dir: ROOT, commit: commitOf(ROOT) };
  if (AGAINST === '') return [own];
  const dir = resolve(AGAINST);
  if (!existsSync(join(dir, 'dist', 'src', 'cli', 'main.js')) || !existsSync(join(dir, 'node_modules')))
    throw new Error(
      `--against ${dir}: not a built checkout (needs dist/ from "npx tsc -p tsconfig.json" and node_modules)`,
    );
  return [own, { name: 'before', dir, commit: commitOf(dir) }];
}

async function startServer(s: ServerSpec, build: Build, dir: string): Promise<Running> {
  const port = await freePort();
  const probe = `http://127.0.0.1:${port}/healthz`;
  if (s.kind === 'bare') {
    const log = s.log === undefined ? [] : ['--log', dir, ...(s.log === 'fsync' ? ['--sync'] : [])];
    return {
      port,
      child: await startProcess(['dist/bench/baseline/server.js', '--port', String(port), ...log], probe),
    };
  }
  if (s.kind === 'redis') return { port, child: await startRedis(port, s.appendfsync, dir) };
  const cfg = distkvConfig(dir, s.distkv, port, await freePort(), SEGMENT_BYTES);
  const args = [
    join(build.dir, 'bin', 'distkv.js'),
    'serve',
    '--config',
    cfg,
    '--data-dir',
    join(dir, 'data'),
  ];
  args.push('--workers', '1', ...(s.distkv.inline ? ['--inline'] : []));
  return { port, child: await startProcess(args, probe) };
}

/** preload writes key0..key<KEYS-1> (100-byte values) through the load generator. */
async function preload(s: ServerSpec, port: number): Promise<number> {
  const scheme = s.kind === 'redis' ? 'redis' : 'http';
  const r = await runLoad({
    ...DEFAULT_LOAD,
    url: `${scheme}://127.0.0.1:${port}`,
    keys: KEYS,
    keyPrefix: KEY_PREFIX,
    valueSize: 100,
    threads: 1,
    preload: true,
    durationS: 0.001,
    warmupS: 0,
    requests: 1,
  });
  return r.preload?.seconds ?? NaN;
}

/** redisRates remembers each redis row's last rate, to size the next run's request count. */
const redisRates = new Map<string, number>();

async function measure(row: Row, port: number): Promise<Measurement> {
  const url = `http://127.0.0.1:${port}`;
  const d = row.driver;
  if (d.kind === 'wrk') {
    const env = { KEYS: String(KEYS), VALUE_SIZE: '100' };
    if (WARMUP > 0) runWrk(url, d.script, WARMUP, d.connections, env);
    const w = runWrk(url, d.script, SECONDS, d.connections, env);
    return { rps: w.rps, p50Ms: w.p50Ms, p99Ms: w.p99Ms, errors: w.errors + w.non2xx };
  }
  if (d.kind === 'redis-benchmark') {
    const opts = {
      test: d.test,
      connections: d.connections,
      pipeline: 1,
      valueSize: 100,
      keyspace: KEYS,
      timeoutMs: (SECONDS * 6 + 60) * 1000,
    };
    // The warm-up run also measures the rate that sizes the timed run to about SECONDS.
    const warm = runRedisBenchmark(port, { ...opts, requests: 20_000 });
    const rate = redisRates.get(row.id) ?? warm.rps;
    const r = runRedisBenchmark(port, { ...opts, requests: Math.max(10_000, Math.round(rate * SECONDS)) });
    redisRates.set(row.id, r.rps);
    return { rps: r.rps, p50Ms: r.p50Ms, p99Ms: r.p99Ms, errors: 0 };
  }
  const scheme = row.server.kind === 'redis' ? 'redis' : 'http';
  const r = await runLoad({
    ...DEFAULT_LOAD,
    url: `${scheme}://127.0.0.1:${port}`,
    mix: MIX,
    keys: KEYS,
    dist: DIST,
    keyPrefix: KEY_PREFIX,
    valueSize: 100,
    concurrency: 50,
    durationS: SECONDS,
    warmupS: WARMUP,
    threads: 1,
    preload: false,
  });
  return {
    rps: r.throughput,
    p50Ms: r.latency.p50_us / 1000,
    p99Ms: r.latency.p99_us / 1000,
    errors: r.errors,
  };
}

const key = (row: Row, build: Build): string => `${row.id}@${build.name}`;
const serverKey = (s: ServerSpec, build: Build): string =>
  s.kind === 'distkv' ? `${s.id}@${build.name}` : s.id;

function report(
  header: string,
  jobs: Job[],
  results: Map<string, (Measurement | undefined)[]>,
  bs: Build[],
  notes: string[],
): string {
  const rounds = Math.max(0, ...[...results.values()].map((r) => r.length));
  const rps = (rowId: string, build: Build): (number | undefined)[] =>
    (results.get(`${rowId}@${build.name}`) ?? []).map((m) => m?.rps);
  const cols = Array.from({ length: rounds }, (_, i) => `round ${i + 1}`);
  const lines = [
    header,
    '',
    `| target | ${cols.join(' | ')} | median | p99 ms (median) |`,
    `|---|${cols.map(() => '---|').join('')}---|---|`,
  ];
  const inCatalogueOrder = [...jobs].sort((a, b) => ROWS.indexOf(a.row) - ROWS.indexOf(b.row));
  for (const { row, build } of inCatalogueOrder) {
    const ms = results.get(key(row, build)) ?? [];
    const label = bs.length > 1 && row.server.kind === 'distkv' ? `${row.label} (${build.name})` : row.label;
    const cells = Array.from({ length: rounds }, (_, i) => formatRate(ms[i]?.rps));
    const errs = ms.reduce((a, m) => a + (m?.errors ?? 0), 0);
    const p99 = median(ms.map((m) => m?.p99Ms ?? NaN));
    lines.push(
      `| ${label}${errs > 0 ? ` (${errs} errors)` : ''} | ${cells.join(' | ')} | ${formatRate(median(ms.map((m) => m?.rps ?? NaN)))} | ${Number.isFinite(p99) ? p99.toFixed(2) : 'n/a'} |`,
    );
  }
  lines.push('');
  const ran = new Set(jobs.map((j) => j.row.id));
  for (const [label, a, b] of RATIOS) {
    if (!ran.has(a) || !ran.has(b)) continue;
    for (const build of bs) {
      const denomBuild = ROWS.find((r) => r.id === b)?.server.kind === 'distkv' ? build : bs[0]!;
      const suffix = bs.length > 1 ? ` (${build.name})` : '';
      lines.push(`- ${label}${suffix}: ${describeRatio(rps(a, build), rps(b, denomBuild))}`);
    }
  }
  if (bs.length > 1)
    for (const row of ROWS)
      if (ran.has(row.id) && row.server.kind === 'distkv')
        lines.push(
          `- after ÷ before, ${row.label}: ${describeRatio(rps(row.id, bs[0]!), rps(row.id, bs[1]!))}`,
        );
  for (const n of notes) lines.push(`- ${n}`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const bs = builds();
  const notes: string[] = [];
  let rows = ROWS.filter((r) => SELECTED.includes(r.id));
  const missing = (r: Row): string | undefined => {
    if (r.driver.kind === 'wrk' && !hasWrk()) return 'wrk is not installed (Debian: apt-get install wrk)';
    if (r.server.kind === 'redis' && !hasRedis()) return 'redis-server is not installed';
    if (r.driver.kind === 'redis-benchmark' && !hasRedisBenchmark())
      return 'redis-benchmark is not installed';
    return undefined;
  };
  for (const r of rows) {
    const why = missing(r);
    if (why !== undefined) notes.push(`${r.id} skipped: ${why}.`);
  }
  rows = rows.filter((r) => missing(r) === undefined);
  // A round: each row, each build side by side (a distkv row runs once per build).
  const runOrder = [...rows].sort((a, b) => RUN_ORDER.indexOf(a.id) - RUN_ORDER.indexOf(b.id));
  const jobs: Job[] = runOrder.flatMap((row) =>
    (row.server.kind === 'distkv' ? bs : bs.slice(0, 1)).map((build) => ({ row, build })),
  );
  const perJobS = SECONDS + WARMUP + 1;
  const plannedMin = (jobs.length * ROUNDS * perJobS) / 60;
  const maxMin = MAX_MINUTES > 0 ? MAX_MINUTES : Math.ceil(plannedMin * 1.5 + 3);
  const deadline = Date.now() + maxMin * 60_000;
  const header = `Measured by \`npm run bench:compare\` (${new Date().toISOString().slice(0, 16)}Z): node ${process.version}, ${availableParallelism()} CPUs (${cpus()[0]?.model ?? '?'}), load average ${loadavg()[0]!.toFixed(1)} at start; ${bs.map((b) => `${b.name} = ${b.commit}`).join(', ')}; wrk -t1 -c50 (put-c10: -c10) and redis-benchmark -c 50 -P 1, 100-byte values, ${KEYS} random keys, ${SECONDS} s per measurement after ${WARMUP} s warm-up, ${ROUNDS} rounds alternated (k/s per round, median)${SEGMENT_BYTES === undefined ? '' : `; wal_segment_bytes = ${SEGMENT_BYTES}`}${rows.some((r) => r.driver.kind === 'loadgen') ? `; mix rows: distkv's load generator, 1 thread, 50 connections, ${MIX}, ${DIST} keys` : ''}`;
  process.stdout.write(
    `# bench:compare | ${header}\n# ${jobs.length} measurements per round, planned ${plannedMin.toFixed(1)} min, stops starting new ones after ${maxMin} min\n`,
  );
  const tmp = mkdtempSync(join(tmpdir(), 'distkv-compare-'));
  const servers = new Map<string, Running>();
  const results = new Map<string, (Measurement | undefined)[]>();
  try {
    for (const { row, build } of jobs) {
      const sk = serverKey(row.server, build);
      if (!servers.has(sk)) {
        const dir = join(tmp, sk.replace('@', '-'));
        mkdirSync(dir);
        servers.set(sk, await startServer(row.server, build, dir));
        process.stdout.write(
          `started ${row.server.label}${row.server.kind === 'distkv' ? ` (${build.name})` : ''}\n`,
        );
      }
    }
    const preloaded = new Set<string>();
    for (const { row, build } of jobs) {
      const sk = serverKey(row.server, build);
      if (!row.preload || preloaded.has(sk)) continue;
      preloaded.add(sk);
      const s = await preload(row.server, servers.get(sk)!.port);
      process.stdout.write(`preloaded ${KEYS} keys into ${sk} in ${s.toFixed(1)} s\n`);
    }
    let done = 0;
    outer: for (let round = 0; round < ROUNDS; round++) {
      for (const job of roundOrder(jobs, round)) {
        if (Date.now() + perJobS * 1000 > deadline) {
          notes.push(
            `stopped after ${done} of ${jobs.length * ROUNDS} measurements: --max-minutes ${maxMin} reached.`,
          );
          break outer;
        }
        const m = await measure(job.row, servers.get(serverKey(job.row.server, job.build))!.port);
        const k = key(job.row, job.build);
        const list = results.get(k) ?? [];
        list[round] = m;
        results.set(k, list);
        done++;
        process.stdout.write(
          `[${done}/${jobs.length * ROUNDS}] round ${round + 1} ${job.row.id}${job.row.server.kind === 'distkv' ? ` (${job.build.name})` : ''}: ${Math.round(m.rps)}/s p50 ${m.p50Ms.toFixed(2)} ms p99 ${m.p99Ms.toFixed(2)} ms${m.errors > 0 ? `, ${m.errors} errors` : ''}\n`,
        );
      }
    }
    const table = report(header, jobs, results, bs, notes);
    process.stdout.write(`\n${table}\n`);
    if (JSON_OUT !== '')
      writeFileSync(
        JSON_OUT,
        JSON.stringify({ header, builds: bs, results: Object.fromEntries(results) }, null, 2),
      );
    if (flag('doc')) {
      writeDocBlock('compare write-path', table, 'Write path (issue 18): `npm run bench:compare`');
      process.stdout.write('\nwritten to docs/performance.md\n');
    }
  } finally {
    await Promise.all([...servers.values()].map((s) => s.child.stop()));
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
