/**
 * `npm run bench:scale -- --keys N`: reads at scale (issue 17). In one run, with distkv's default
 * layout (4 shards, leaders on one port, replicas on another, durability none) and 100-byte values:
 *  1. fresh: a store given 100k keys through PUTs (all in memtables) — the baseline;
 *  2. puts: a store given N keys through PUTs (load time measured); then, while its runs settle
 *     into LMDB (idle and read-triggered compaction), GET over the hot 100k in short windows,
 *     each classed as before / during / after compaction from /stats polled alongside;
 *  3. bulk: a store given the same N keys with `distkv load` (load time measured);
 *  4. redis-server holding N keys (through SETs), when installed.
 * Then GET (uniform random) over the hot 100k and over all N, targets alternated round by round,
 * median round; disk bytes per logical byte (allocated blocks ÷ N × (key + value) per copy) and RSS.
 * The table is printed; with `--doc` it is also written into docs/performance.md between the
 * bench:scale markers (without it a run leaves the doc alone; `--no-write`, the old opt-out, is
 * still accepted and changes nothing).
 *
 * Usage: node dist/bench/scale-bench.js [--keys 1000000] [--seconds 10] [--rounds 2]
 *        [--connections 50] [--memtable-bytes 67108864] [--doc]
 */
import { spawnSync } from 'node:child_process';
import {
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { DEFAULT_LOAD, type LoadOptions, type LoadResult, runLoad } from '../src/loadgen/loadgen.js';
import { Pool } from 'undici';
import { count, flag } from './lib/args.js';
import { type Child, defaultLayoutConfig, freePort, startProcess } from './lib/processes.js';
import { writeDocBlock } from './lib/doc-block.js';
import { hasRedis, startRedis } from './lib/redis.js';
import { median } from './lib/compare-stats.js';

const KEYS = count('keys', 1000000);
const HOT = Math.min(100_000, KEYS);
const SECONDS = count('seconds', 10);
const ROUNDS = count('rounds', 2);
const CONNS = count('connections', 50);
const WRITE = flag('doc');
/** MEMTABLE: storage.memtable_bytes of the distkv targets (smaller values show runs and compaction at small N). */
const MEMTABLE = count('memtable-bytes', 67108864);
const STORAGE = `[storage]\ndurability = "none"\nmemtable_bytes = ${MEMTABLE}\n`;
const VALUE = 100;
const PUT_CONNS = 100;
const WINDOW_S = 2;
const SETTLE_LIMIT_MS = 30 * 60_000;

interface Target {
  name: string;
  url: string;
  child: Child;
  dir: string;
}

const say = (s: string): void => {
  process.stdout.write(`${s}\n`);
};

const load = (url: string, keys: number, extra: Partial<LoadOptions> = {}): Promise<LoadResult> =>
  runLoad({
    ...DEFAULT_LOAD,
    url,
    mix: 'get:100',
    keys,
    dist: 'uniform',
    valueSize: VALUE,
    concurrency: CONNS,
    durationS: SECONDS,
    warmupS: 1,
    threads: 1,
    preload: false,
    ...extra,
  });

/** preload sets keys 0..n-1 through PUTs (or SETs) and returns the seconds it took. */
async function preload(url: string, n: number): Promise<number> {
  const r = await load(url, n, {
    preload: true,
    durationS: 0.001,
    warmupS: 0,
    requests: 1,
    concurrency: PUT_CONNS,
  });
  return r.preload?.seconds ?? NaN;
}

/**
 * putAll sets keys 0..n-1 with `PUT /kv/key:i` over PUT_CONNS keep-alive connections and returns
 * the seconds it took (the load generator's preload stops after 10 minutes, which N = 5M through
 * PUTs outlasts on a shared 2-core machine). Any non-204 answer fails the benchmark.
 */
async function putAll(url: string, n: number): Promise<number> {
  const pool = new Pool(url, { connections: PUT_CONNS, pipelining: 1 });
  const body = Buffer.alloc(VALUE, 0x76);
  let next = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    for (let i = next++; i < n; i = next++) {
      const r = await pool.request({ method: 'PUT', path: `/kv/key:${i}`, body });
      await r.body.dump();
      if (r.statusCode !== 204) throw new Error(`PUT key:${i} answered ${r.statusCode}`);
      if (i % 500_000 === 0 && i > 0) say(`  ${i} keys put`);
    }
  };
  try {
    await Promise.all(Array.from({ length: PUT_CONNS }, worker));
  } finally {
    await pool.close();
  }
  return (performance.now() - t0) / 1000;
}

async function startDistkv(dir: string, name: string): Promise<Target> {
  const sub = join(dir, name);
  mkdirSync(sub);
  const [lp, rp] = [await freePort(), await freePort()];
  const cfg = defaultLayoutConfig(sub, lp, rp, STORAGE);
  const url = `http://127.0.0.1:${lp}`;
  const args = ['bin/distkv.js', 'serve', '--config', cfg, '--data-dir', join(sub, 'data')];
  return { name, url, dir: sub, child: await startProcess(args, `${url}/healthz`, {}, 120_000) };
}

interface StoreStats {
  runs: number;
  frozenMemtables: number;
  compactionRunning: number;
  compactions: number;
}
interface StatsDoc {
  node: { rss_bytes: number };
  stores: StoreStats[];
}

async function stats(url: string): Promise<StatsDoc> {
  const r = await fetch(`${url}/stats`);
  return (await r.json()) as StatsDoc;
}

/** diskBytes is the space allocated to the files under `dir` whose name ends with `suffix`. */
function diskBytes(dir: string, suffix = ''): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true }))
    if (e.isFile() && e.name.endsWith(suffix)) n += statSync(join(e.parentPath, e.name)).blocks * 512;
  return n;
}

/** diskSummary gives a data directory's bytes per logical byte (per copy), split by level. */
function diskSummary(dir: string, logical: number): string {
  const per = (suffix: string): string => (diskBytes(dir, suffix) / 2 / logical).toFixed(2);
  return `${per('')} (LMDB ${per('.mdb')}, WAL ${per('.log')}, runs ${per('.sst')})`;
}

function redisRss(port: number): number {
  const r = spawnSync('redis-cli', ['-p', String(port), 'info', 'memory'], { encoding: 'utf8' });
  return Number(/used_memory_rss:(\d+)/.exec(r.stdout)?.[1] ?? NaN);
}

/**
 * settle polls /stats while GET windows run over the hot keys, until no store has runs, frozen
 * memtables or a compaction running; returns the settle time and each window's p99 by phase.
 */
async function settle(t: Target, loadEnd: number): Promise<{ ms: number; p99: Record<string, number[]> }> {
  const p99: Record<string, number[]> = { before: [], during: [], after: [] };
  const startCount = (await stats(t.url)).stores.reduce((n, s) => n + s.compactions, 0);
  let settledAt: number | undefined;
  let afterWindows = 0;
  while (afterWindows < 2) {
    if (performance.now() - loadEnd > SETTLE_LIMIT_MS)
      throw new Error('compaction did not settle in 30 minutes');
    const seen = { running: false, settled: true, started: false };
    let polling = true;
    const poll = (async () => {
      while (polling) {
        const st = await stats(t.url);
        const done = st.stores.reduce((n, s) => n + s.compactions, 0);
        if (st.stores.some((s) => s.compactionRunning > 0)) seen.running = true;
        if (done > startCount) seen.started = true;
        const settled = st.stores.every(
          (s) => s.runs === 0 && s.frozenMemtables === 0 && s.compactionRunning === 0,
        );
        if (!settled) seen.settled = false;
        else settledAt ??= performance.now();
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const r = await load(t.url, HOT, { durationS: WINDOW_S, warmupS: 0 });
    polling = false;
    await poll;
    const phase = seen.running ? 'during' : seen.settled ? 'after' : seen.started ? 'during' : 'before';
    p99[phase]!.push(r.latency.p99_us / 1000);
    if (phase === 'after') afterWindows++;
    say(
      `  settle window: ${phase}, ${Math.round(r.throughput)} GET/s, p99 ${(r.latency.p99_us / 1000).toFixed(2)} ms`,
    );
  }
  return { ms: (settledAt ?? performance.now()) - loadEnd, p99 };
}

/** writeJsonl writes keys 0..n-1 with VALUE-byte values as `distkv load` input. */
async function writeJsonl(path: string, n: number): Promise<void> {
  const out = createWriteStream(path);
  const value = 'v'.repeat(VALUE);
  for (let i = 0; i < n; i++)
    if (!out.write(`{"key":"key:${i}","value":"${value}"}\n`)) await once(out, 'drain');
  out.end();
  await once(out, 'finish');
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'distkv-scale-'));
  const header = `node ${process.version}, ${availableParallelism()} CPUs (${cpus()[0]?.model ?? '?'}); default layout (4 shards + 4 replicas, one process), durability none, memtable_bytes ${MEMTABLE}, ${VALUE}-byte values, N = ${KEYS} keys; GET uniform random, load generator 1 thread, ${CONNS} connections, ${SECONDS} s after 1 s warm-up, ${ROUNDS} rounds alternated, median round; machine shared with other jobs`;
  say(`# bench:scale | ${header}`);
  const targets: Target[] = [];
  let logical = 0;
  for (let i = 0; i < KEYS; i++) logical += 'key:'.length + String(i).length + VALUE;
  const facts: string[] = [];
  try {
    const fresh = await startDistkv(dir, 'fresh');
    targets.push(fresh);
    await preload(fresh.url, HOT);

    const puts = await startDistkv(dir, 'puts');
    targets.push(puts);
    const putS = await putAll(puts.url, KEYS);
    say(`loaded ${KEYS} keys through PUTs in ${putS.toFixed(1)} s`);
    const settled = await settle(puts, performance.now());
    say(`compaction settled ${(settled.ms / 1000).toFixed(1)} s after the load`);

    const jsonl = join(dir, 'keys.jsonl');
    await writeJsonl(jsonl, KEYS);
    mkdirSync(join(dir, 'bulk'));
    const bulkCfg = defaultLayoutConfig(join(dir, 'bulk'), await freePort(), await freePort(), STORAGE);
    const t0 = performance.now();
    const r = spawnSync(
      process.execPath,
      ['bin/distkv.js', 'load', jsonl, '--config', bulkCfg, '--data-dir', join(dir, 'bulk', 'data')],
      { stdio: 'inherit' },
    );
    if (r.status !== 0) throw new Error(`distkv load exited with ${r.status}`);
    const bulkS = (performance.now() - t0) / 1000;
    rmSync(jsonl);
    say(`loaded ${KEYS} keys with distkv load in ${bulkS.toFixed(1)} s`);
    const lp = /127\.0\.0\.1:(\d+)/.exec(readFileSync(bulkCfg, 'utf8'))![1]!;
    const bulkUrl = `http://127.0.0.1:${lp}`;
    const args = ['bin/distkv.js', 'serve', '--config', bulkCfg, '--data-dir', join(dir, 'bulk', 'data')];
    targets.push({
      name: 'bulk',
      url: bulkUrl,
      dir: join(dir, 'bulk'),
      child: await startProcess(args, `${bulkUrl}/healthz`, {}, 120_000),
    });

    let redisPort: number | undefined;
    if (hasRedis()) {
      redisPort = await freePort();
      mkdirSync(join(dir, 'redis'));
      const child = await startRedis(redisPort, 'everysec', join(dir, 'redis'));
      const redis = { name: 'redis', url: `redis://127.0.0.1:${redisPort}`, dir: join(dir, 'redis'), child };
      targets.push(redis);
      say(`loaded ${KEYS} keys into redis-server in ${(await preload(redis.url, KEYS)).toFixed(1)} s`);
    } else facts.push('redis-server is not installed: redis rows skipped.');

    // Reads, alternated: [target, key count] pairs.
    const cases: [Target, number, string][] = [
      [fresh, HOT, `distkv, fresh store, ${HOT} keys (all in memtables)`],
    ];
    for (const t of targets.slice(1)) {
      const what =
        t.name === 'puts'
          ? `distkv, ${KEYS} keys through PUTs, settled`
          : t.name === 'bulk'
            ? `distkv, ${KEYS} keys through distkv load`
            : `redis-server, ${KEYS} keys`;
      cases.push([t, HOT, `${what}: GET over the first ${HOT}`], [t, KEYS, `${what}: GET over all ${KEYS}`]);
    }
    const results = new Map<string, LoadResult[]>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const [t, n, label] of round % 2 === 0 ? cases : [...cases].reverse()) {
        const res = await load(t.url, n);
        results.set(label, [...(results.get(label) ?? []), res]);
        say(
          `round ${round + 1} ${label}: ${Math.round(res.throughput)} GET/s p99 ${(res.latency.p99_us / 1000).toFixed(2)} ms, errors ${res.errors}`,
        );
      }
    }
    const pick = (label: string): LoadResult => {
      const rs = results.get(label)!;
      const m = median(rs.map((x) => x.throughput));
      return rs.find((x) => x.throughput === m)!;
    };
    const base = pick(cases[0]![2]);
    const lines = [
      `Measured by \`npm run bench:scale -- --keys ${KEYS}\` (${new Date().toISOString().slice(0, 10)}): ${header}.`,
      '',
      '| target | GET/s | p50 ms | p99 ms | errors | GET/s ÷ fresh | p99 ÷ fresh |',
      '|---|---|---|---|---|---|---|',
      ...cases.map(([, , label]) => {
        const x = pick(label);
        return `| ${label} | ${Math.round(x.throughput)} | ${(x.latency.p50_us / 1000).toFixed(2)} | ${(x.latency.p99_us / 1000).toFixed(2)} | ${x.errors} | ${(x.throughput / base.throughput).toFixed(2)} | ${(x.latency.p99_us / base.latency.p99_us).toFixed(2)} |`;
      }),
      '',
    ];
    const ratio = (a: string, b: string): string =>
      results.has(a) && results.has(b) ? (pick(a).throughput / pick(b).throughput).toFixed(2) : 'n/a';
    const all = `distkv, ${KEYS} keys through PUTs, settled: GET over all ${KEYS}`;
    const p = settled.p99;
    const m = (xs: number[]): string => (xs.length === 0 ? 'n/a' : median(xs).toFixed(2));
    const rel = (a: number[], b: number[]): string =>
      a.length === 0 || b.length === 0 ? 'n/a' : (median(a) / median(b)).toFixed(2);
    const st = await stats(puts.url);
    const bulkSt = await stats(bulkUrl);
    lines.push(
      `- GET over all ${KEYS} keys ÷ redis-server holding ${KEYS} keys: ${ratio(all, `redis-server, ${KEYS} keys: GET over all ${KEYS}`)}x`,
      `- Load time of ${KEYS} keys: through PUTs (${PUT_CONNS} connections) ${putS.toFixed(1)} s; through \`distkv load\` ${bulkS.toFixed(1)} s (${(putS / bulkS).toFixed(1)}x faster).`,
      `- Compaction settled (no run, no frozen memtable, no compaction running in any store) ${(settled.ms / 1000).toFixed(1)} s after the PUT load ended. GET p99 over the hot ${HOT} in ${WINDOW_S} s windows: before compaction ${m(p.before!)} ms (${p.before!.length} windows), during ${m(p.during!)} ms (${p.during!.length}), after ${m(p.after!)} ms (${p.after!.length}); during ÷ before ${rel(p.during!, p.before!)}, during ÷ after ${rel(p.during!, p.after!)}.`,
      `- Disk bytes ÷ logical bytes (key + value, per copy; 2 copies): PUT-loaded ${diskSummary(join(puts.dir, 'data'), logical)}, bulk-loaded ${diskSummary(join(dir, 'bulk', 'data'), logical)}.`,
      `- RSS with ${KEYS} keys (8 stores, 2 copies): PUT-loaded ${(st.node.rss_bytes / 2 ** 20).toFixed(0)} MiB, bulk-loaded ${(bulkSt.node.rss_bytes / 2 ** 20).toFixed(0)} MiB${redisPort === undefined ? '' : `, redis-server ${(redisRss(redisPort) / 2 ** 20).toFixed(0)} MiB (1 copy)`}.`,
      ...facts.map((f) => `- ${f}`),
    );
    const table = lines.join('\n');
    say(`\n${table}`);
    if (WRITE) {
      writeDocBlock('scale', table, 'Reads at scale (bench:scale)');
      say('\nwritten to docs/performance.md');
    }
  } finally {
    await Promise.all(targets.map((t) => t.child.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
