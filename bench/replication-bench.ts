/**
 * Replication figures (docs/performance.md), each measured in one run:
 *   lag-local   replication lag (leader ack → replica durable) at a steady --rate writes/s, leader
 *               and replica on one thread, each with a commit log of its own, durability fsync
 *   lag-shared  the same with both stores in one commit log, as a worker holds them (the default
 *               1-worker layout: a caught-up replica is fed in its leader's batches)
 *   lag-http    the same with the leader in a server process and the replica pulling over HTTP
 *   overhead    leader PUT throughput (wrk -t1 -c50) with a replica attached vs without
 *   catchup     a replica catching up --records records over HTTP from zero
 *   snapshot    a replica rebuilding from a --snapshot-mib MiB leader snapshot over HTTP
 *
 * `npm run bench:replication -- [OPTIONS]` builds the checkout, then runs it; on a built checkout:
 * Usage: node dist/bench/replication-bench.js [all|lag-local|lag-shared|lag-http|overhead|catchup|snapshot (default all)] [--rate 10000] [--seconds 10] [--records 1000000] [--snapshot-mib 1024]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { Follower } from '../src/replication/follower.js';
import { HttpSource } from '../src/replication/http-source.js';
import { LocalSource } from '../src/replication/local-source.js';
import type { ReplicationSource } from '../src/replication/source.js';
import type { CommitLog } from '../src/storage/commit-log.js';
import { openLsmStore, openLsmStores } from '../src/storage/lsm-recovery.js';
import type { LsmOptions } from '../src/storage/lsm-options.js';
import type { LsmStore } from '../src/storage/lsm-store.js';
import { RealVfs } from '../src/storage/real-vfs.js';
import { freePort, startProcess } from './lib/processes.js';
import { hasWrk, runWrk } from './lib/wrk.js';
import { count, workload } from './lib/args.js';

const RATE = count('rate', 10000);
const SECONDS = count('seconds', 10);
const RECORDS = count('records', 1000000);
const SNAPSHOT_MIB = count('snapshot-mib', 1024);
const WHAT = workload('all', [
  'all',
  'lag-local',
  'lag-shared',
  'lag-http',
  'overhead',
  'catchup',
  'snapshot',
]);
const root = mkdtempSync(join(tmpdir(), 'distkv-repl-bench-'));
const results: Record<string, unknown> = {};
const VALUE = Buffer.alloc(100, 0x61);

function openStore(dir: string, durability: 'fsync' | 'none' = 'fsync'): Promise<LsmStore> {
  return openLsmStore(storeOptions(dir, durability));
}

function storeOptions(dir: string, durability: 'fsync' | 'none' = 'fsync'): LsmOptions {
  return {
    dir,
    vfs: new RealVfs(),
    durability,
    fsyncIntervalMs: 100,
    memtableBytes: 64 << 20,
    maxRuns: 4,
    walSegmentBytes: 64 << 20,
    walRetentionBytes: 1 << 30,
    blockCacheBytes: 16 << 20,
    ringBytes: 8 << 20,
    repair: false,
  };
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

/** follow starts a follower into `replica` and calls onAck with each published ack. */
function follow(
  source: ReplicationSource,
  replica: LsmStore,
  onAck: (ack: number) => void,
  maxBytes = 1 << 20,
): Follower {
  const f = new Follower({
    source,
    store: () => replica.replication,
    rebuild: () => Promise.reject(new Error('not in this benchmark')),
    reopen: () => Promise.reject(new Error('not in this benchmark')),
    publish: ({ ack }) => {
      onAck(ack);
    },
    pullMaxBytes: maxBytes,
    pullWaitMs: 1000,
  });
  f.start();
  return f;
}

/**
 * LagMeter pairs each write the leader acknowledged with the first replica ack that covers it. A
 * replica fed in its leader's batch (lag-shared) may ack a write before the leader's answer reaches
 * the writer: that write lags 0.
 */
class LagMeter {
  readonly lags: number[] = [];
  private readonly waiting = new Map<number, number>();
  private acked = 0;

  /** leaderAcked records that the leader acknowledged `seq` now. */
  leaderAcked(seq: number): void {
    if (seq <= this.acked) this.lags.push(0);
    else this.waiting.set(seq, performance.now());
  }

  /** replicaAcked records the replica's ack. */
  replicaAcked(ack: number): void {
    this.acked = Math.max(this.acked, ack);
    const now = performance.now();
    for (const [seq, t] of this.waiting)
      if (seq <= ack) {
        this.lags.push(now - t);
        this.waiting.delete(seq);
      }
  }

  /** pending counts acknowledged writes the replica has not acked yet. */
  get pending(): number {
    return this.waiting.size;
  }
}

/** lagRun writes at RATE for SECONDS with `write` and measures ack-to-replica lag with `meter`. */
async function lagRun(
  write: (i: number) => Promise<number>,
  meter: LagMeter,
): Promise<{ writes: number; rate: number }> {
  const t0 = performance.now();
  const end = t0 + SECONDS * 1000;
  let i = 0;
  const inflight = new Set<Promise<void>>();
  while (performance.now() < end) {
    const due = Math.floor(((performance.now() - t0) / 1000) * RATE);
    while (i < due && inflight.size < 2000) {
      const p = write(i++).then((seq) => {
        meter.leaderAcked(seq);
      });
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
    }
    await new Promise((r) => setImmediate(r));
  }
  await Promise.all(inflight);
  const deadline = performance.now() + 10000;
  while (meter.pending > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  return { writes: i, rate: i / ((performance.now() - t0) / 1000) };
}

/** BENCH_REPLICA is the replica address the leaders' configs name (leaders hear pulls only from their replicas). */
const BENCH_REPLICA = '127.0.0.1:1';

/** httpSourceOf is a replica's HTTP source for shard 0 of the leader at `address`. */
function httpSourceOf(address: string): HttpSource {
  return new HttpSource({ leader: address, shard: 0, replica: BENCH_REPLICA, token: '', scheme: 'http' });
}

/** reportLag records and prints one lag run. */
function reportLag(key: string, name: string, rate: number, lags: number[]): void {
  results[key] = {
    writesPerS: Math.round(rate),
    samples: lags.length,
    p50Ms: pct(lags, 50),
    p99Ms: pct(lags, 99),
    maxMs: pct(lags, 100),
  };
  process.stdout.write(
    `${name}: ${Math.round(rate)} writes/s, lag p50 ${pct(lags, 50).toFixed(2)} ms p99 ${pct(lags, 99).toFixed(2)} ms\n`,
  );
}

/** lagOnThread measures lag-local (a commit log per store) or, with `shared`, lag-shared (one commit log). */
async function lagOnThread(shared: boolean): Promise<void> {
  const dirs = shared ? [join(root, 'sl'), join(root, 'sr')] : [join(root, 'll'), join(root, 'lr')];
  let log: CommitLog | undefined;
  let stores: LsmStore[];
  if (shared) {
    const opened = await openLsmStores(
      { vfs: new RealVfs(), dir: join(root, 'slog') },
      dirs.map((d) => storeOptions(d)),
    );
    log = opened.log;
    stores = opened.stores.map((s) => {
      if (s instanceof Error) throw s;
      return s;
    });
  } else stores = await Promise.all(dirs.map((d) => openStore(d)));
  const [leader, replica] = stores as [LsmStore, LsmStore];
  const meter = new LagMeter();
  const f = follow(new LocalSource(() => leader.replication, 'local'), replica, (ack) => {
    meter.replicaAcked(ack);
  });
  const r = await lagRun(async (i) => (await leader.put(Buffer.from(`key:${i % 100000}`), VALUE)).seq, meter);
  await f.stop();
  reportLag(shared ? 'lagShared' : 'lagLocal', shared ? 'lag-shared' : 'lag-local', r.rate, meter.lags);
  await replica.close();
  await leader.close();
  await log?.close();
}

async function leaderProcess(
  name: string,
  withReplicaOf = '',
): Promise<{ url: string; address: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const cfg = join(dir, 'c.toml');
  const replicas = withReplicaOf === '' ? '[]' : `["${withReplicaOf}"]`;
  writeFileSync(
    cfg,
    `[[shards]]\nname = "s0"\nidx = 0\naddress = "${address}"\nreplicas = ${replicas}\n[storage]\nwal_retention_bytes = 4294967296\n`,
  );
  const p = await startProcess(
    [
      'bin/distkv.js',
      'serve',
      '--config',
      cfg,
      '--node',
      address,
      '--data-dir',
      join(dir, 'data'),
      '--workers',
      '1',
    ],
    `http://${address}/healthz`,
  );
  return { url: `http://${address}`, address, stop: () => p.stop() };
}

async function lagHttp(): Promise<void> {
  const leader = await leaderProcess('lh', BENCH_REPLICA);
  const replica = await openStore(join(root, 'lhr'));
  const meter = new LagMeter();
  const source = httpSourceOf(leader.address);
  const f = follow(source, replica, (ack) => {
    meter.replicaAcked(ack);
  });
  const pool = new Pool(leader.url, { connections: 64 });
  const r = await lagRun(async (i) => {
    const res = await pool.request({ path: `/kv/key:${i % 100000}`, method: 'PUT', body: VALUE });
    await res.body.dump();
    return Number(res.headers['x-distkv-seq']);
  }, meter);
  await f.stop();
  await pool.close();
  reportLag('lagHttp', 'lag-http', r.rate, meter.lags);
  await replica.close();
  await leader.stop();
}

async function overhead(): Promise<void> {
  if (!hasWrk()) {
    process.stdout.write('overhead: skipped (wrk is not installed)\n');
    return;
  }
  const runs: { off: number; on: number }[] = [];
  for (let round = 0; round < 2; round++) {
    const off = await leaderProcess(`off${round}`);
    const a = runWrk(off.url, 'put-kv.lua', SECONDS);
    await off.stop();
    // With a replica: a second node of the same config in the same process, so it pulls over HTTP.
    const port = await freePort();
    const replicaAddr = `127.0.0.1:${port}`;
    const dir = join(root, `on${round}`);
    mkdirSync(dir, { recursive: true });
    const leaderPort = await freePort();
    const leaderAddr = `127.0.0.1:${leaderPort}`;
    const cfg = join(dir, 'c.toml');
    writeFileSync(
      cfg,
      `[[shards]]\nname = "s0"\nidx = 0\naddress = "${leaderAddr}"\nreplicas = ["${replicaAddr}"]\n`,
    );
    const on = await startProcess(
      ['bin/distkv.js', 'serve', '--config', cfg, '--data-dir', join(dir, 'data'), '--workers', '1'],
      `http://${leaderAddr}/healthz`,
    );
    const b = runWrk(`http://${leaderAddr}`, 'put-kv.lua', SECONDS);
    await on.stop();
    runs.push({ off: a.rps, on: b.rps });
    process.stdout.write(
      `overhead round ${round + 1}: replication off ${Math.round(a.rps)}/s, on ${Math.round(b.rps)}/s (on ÷ off ${(b.rps / a.rps).toFixed(2)}x)\n`,
    );
  }
  const off = Math.max(...runs.map((r) => r.off));
  const on = Math.max(...runs.map((r) => r.on));
  results.overhead = {
    offPerS: Math.round(off),
    onPerS: Math.round(on),
    ratio: Number((on / off).toFixed(2)),
  };
}

async function loadLeader(url: string, records: number, valueBytes: number): Promise<void> {
  const pool = new Pool(url, { connections: 4 });
  const value = 'v'.repeat(valueBytes);
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < records) {
        const start = next;
        next += 1000;
        const ops = [];
        for (let i = start; i < Math.min(records, start + 1000); i++)
          ops.push({ op: 'set', key: `key:${String(i).padStart(10, '0')}`, value });
        const r = await pool.request({ path: '/kv/_batch', method: 'POST', body: JSON.stringify(ops) });
        await r.body.dump();
      }
    }),
  );
  await pool.close();
}

async function catchup(): Promise<void> {
  const leader = await leaderProcess('cu', BENCH_REPLICA);
  // Register the replica with the leader first, so the leader retains the log it will need.
  await (
    await fetch(`${leader.url}/_repl/pull?shard=0&after=0&wait_ms=0&replica=${BENCH_REPLICA}`)
  ).arrayBuffer();
  await loadLeader(leader.url, RECORDS, 100);
  const replica = await openStore(join(root, 'cur'), 'fsync');
  let done: () => void = () => undefined;
  const finished = new Promise<void>((r) => (done = r));
  const t0 = performance.now();
  const f = follow(
    httpSourceOf(leader.address),
    replica,
    (ack) => {
      if (ack >= RECORDS) done();
    },
    4 << 20,
  );
  await finished;
  const s = (performance.now() - t0) / 1000;
  await f.stop();
  results.catchup = { records: RECORDS, seconds: Number(s.toFixed(2)), recordsPerS: Math.round(RECORDS / s) };
  process.stdout.write(
    `catchup: ${RECORDS} records in ${s.toFixed(2)} s (${Math.round(RECORDS / s)} records/s)\n`,
  );
  await replica.close();
  await leader.stop();
}

async function snapshot(): Promise<void> {
  const leader = await leaderProcess('sn');
  const valueBytes = 1000;
  const records = Math.ceil((SNAPSHOT_MIB * 1024 * 1024) / (valueBytes + 14));
  await loadLeader(leader.url, records, valueBytes);
  const replica = await openStore(join(root, 'snr'), 'none');
  const source = httpSourceOf(leader.address);
  const t0 = performance.now();
  const snap = await source.snapshot();
  let bytes = 0;
  let keys = 0;
  let writing: Promise<void> = Promise.resolve();
  for await (const chunk of snap.chunks) {
    await writing;
    writing = replica.replication.loadSnapshotChunk(chunk, snap.seq);
    for (const e of chunk) bytes += e.key.length + e.value.length;
    keys += chunk.length;
  }
  await writing;
  await replica.replication.finishSnapshot(snap.seq);
  const s = (performance.now() - t0) / 1000;
  await source.close();
  results.snapshot = {
    keys,
    mib: Math.round(bytes / 1048576),
    seconds: Number(s.toFixed(2)),
    mbPerS: Math.round(bytes / 1e6 / s),
  };
  process.stdout.write(
    `snapshot: ${keys} keys, ${Math.round(bytes / 1048576)} MiB in ${s.toFixed(2)} s (${Math.round(bytes / 1e6 / s)} MB/s)\n`,
  );
  await replica.close();
  await leader.stop();
}

process.stdout.write(
  `# replication-bench | node ${process.version} | ${availableParallelism()} CPUs (${cpus()[0]?.model ?? '?'}) | ${WHAT}\n`,
);
try {
  if (WHAT === 'all' || WHAT === 'lag-local') await lagOnThread(false);
  if (WHAT === 'all' || WHAT === 'lag-shared') await lagOnThread(true);
  if (WHAT === 'all' || WHAT === 'lag-http') await lagHttp();
  if (WHAT === 'all' || WHAT === 'overhead') await overhead();
  if (WHAT === 'all' || WHAT === 'catchup') await catchup();
  if (WHAT === 'all' || WHAT === 'snapshot') await snapshot();
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
} finally {
  rmSync(root, { recursive: true, force: true });
}
