/**
 * The store suite: the same workloads on plain LMDB (LmdbStore) and on the LSM sidecar over LMDB
 * (LsmStore), in one process, one run (docs/performance.md).
 *
 *   writes      random 100-byte writes, durability fsync, 50 concurrent writers, for --seconds
 *   reads       point reads of keys that live in LMDB with 4 SSTable runs present (bloom filters
 *               must make the runs cheap to skip) vs the same reads on plain LMDB
 *   recovery    reopen a store whose WAL holds --wal-mib MiB not yet flushed; replay rate
 *   compaction  p50/p99 of foreground puts and gets while a compaction runs vs while none does
 *
 * recovery-default (run only when named) reopens a store with the default 64 MiB memtable whose
 * --wal-mib MiB of WAL a lagging replica keeps: a restart replays only what is not yet in runs.
 *
 * `npm run bench:store -- [OPTIONS]` builds the checkout, then runs it; on a built checkout:
 * Usage: node dist/bench/store-suite.js [writes|reads|recovery|recovery-default|compaction|all (default all)] [--seconds 10] [--wal-mib 256] [--json out.json]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { LmdbStore } from '../src/storage/lmdb-store.js';
import { openLsmStore } from '../src/storage/lsm-recovery.js';
import type { LsmStore } from '../src/storage/lsm-store.js';
import { RealVfs } from '../src/storage/real-vfs.js';
import type { Store } from '../src/storage/store.js';
import type { Durability } from '../src/config/schema.js';
import { arg, count, workload } from './lib/args.js';

const SECONDS = count('seconds', 10);
const WAL_MIB = count('wal-mib', 256);
const JSON_OUT = arg('json', '');
const WHAT = workload('all', ['all', 'writes', 'reads', 'recovery', 'recovery-default', 'compaction']);
const results: Record<string, unknown> = {};
const root = mkdtempSync(join(tmpdir(), 'distkv-store-suite-'));
let dirNo = 0;
const freshDir = (): string => join(root, `s${dirNo++}`);

function openLsm(
  dir: string,
  o: { durability?: Durability; memtableBytes?: number; maxRuns?: number; walRetentionBytes?: number } = {},
): Promise<LsmStore> {
  return openLsmStore({
    dir,
    vfs: new RealVfs(),
    durability: o.durability ?? 'fsync',
    fsyncIntervalMs: 100,
    memtableBytes: o.memtableBytes ?? 64 * 1024 * 1024,
    maxRuns: o.maxRuns ?? 4,
    walSegmentBytes: 64 * 1024 * 1024,
    walRetentionBytes: o.walRetentionBytes ?? 0,
    blockCacheBytes: 16 * 1024 * 1024,
    ringBytes: 8 * 1024 * 1024,
    repair: false,
  });
}

const VALUE = Buffer.alloc(100, 0x61);
const key = (i: number): Buffer => Buffer.from(`key:${String(i).padStart(10, '0')}`);

async function writeLoad(store: Store, seconds: number, writers: number): Promise<number> {
  let n = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (performance.now() < end) {
        await store.put(key(Math.floor(Math.random() * 1e6)), VALUE);
        n++;
      }
    }),
  );
  return n / seconds;
}

async function writes(): Promise<void> {
  const rounds: { lmdb: number; lsm: number }[] = [];
  for (let round = 0; round < 2; round++) {
    const lmdb = new LmdbStore({ dir: freshDir(), durability: 'fsync', fsyncIntervalMs: 100 });
    const l = await writeLoad(lmdb, SECONDS, 50);
    await lmdb.close();
    const lsm = await openLsm(freshDir());
    const s = await writeLoad(lsm, SECONDS, 50);
    await lsm.close();
    rounds.push({ lmdb: l, lsm: s });
    process.stdout.write(
      `writes round ${round + 1}: plain LMDB ${Math.round(l)}/s, LSM ${Math.round(s)}/s (LSM ÷ plain LMDB ${(s / l).toFixed(2)}x)\n`,
    );
  }
  const lmdb = Math.max(...rounds.map((r) => r.lmdb));
  const lsm = Math.max(...rounds.map((r) => r.lsm));
  results.writes = {
    lmdbPerS: Math.round(lmdb),
    lsmPerS: Math.round(lsm),
    ratio: Number((lsm / lmdb).toFixed(2)),
    writers: 50,
    valueBytes: 100,
    durability: 'fsync',
  };
}

function timeGets(store: Store, keys: Buffer[], iterations: number): number {
  let found = 0;
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) if (store.get(keys[i % keys.length]!) !== undefined) found++;
  const ns = ((performance.now() - t0) * 1e6) / iterations;
  if (found !== iterations) throw new Error(`reads: ${iterations - found} keys not found`);
  return ns;
}

/** SETTLE_MS bounds the wait for the LSM store's flushes and compactions before reads are timed. */
const SETTLE_MS = 300_000;

async function reads(): Promise<void> {
  const N = 200000;
  const lmdb = new LmdbStore({ dir: freshDir(), durability: 'none', fsyncIntervalMs: 100 });
  const lsm = await openLsm(freshDir(), { durability: 'none', memtableBytes: 2 * 1024 * 1024, maxRuns: 4 });
  const batch = async (s: Store, from: number, to: number, prefix = ''): Promise<void> => {
    for (let i = from; i < to; i += 1000) {
      const ops: Promise<unknown>[] = [];
      for (let j = i; j < Math.min(to, i + 1000); j++)
        ops.push(s.put(prefix === '' ? key(j) : Buffer.from(`${prefix}${j}`), VALUE));
      await Promise.all(ops);
    }
  };
  // Bounded: a store whose compactions never bring it to 4 runs fails the suite instead of hanging it.
  const settle = async (): Promise<void> => {
    const deadline = Date.now() + SETTLE_MS;
    for (;;) {
      await lsm.idle();
      await new Promise((r) => setTimeout(r, 50));
      const st = lsm.stats();
      if (Number(st.runs) <= 4 && Number(st.frozenMemtables) === 0 && st.compactionRunning === 0) return;
      if (Date.now() > deadline)
        throw new Error(`reads: the LSM store did not settle within ${SETTLE_MS / 1000} s (${st.runs} runs)`);
    }
  };
  await batch(lmdb, 0, N);
  await batch(lsm, 0, N);
  await settle();
  // Keys 0..N are now in LMDB or in runs: add other keys until exactly 4 runs sit above LMDB and
  // every key of 0..N is in LMDB (the runs then hold only other keys).
  let extra = 0;
  while (Number(lsm.stats().runs) !== 4 || Number(lsm.stats().lmdbKeys) < N) {
    await batch(lsm, extra, extra + 2000, 'other:');
    extra += 2000;
    await settle();
  }
  const st = lsm.stats();
  const inLmdb: Buffer[] = [];
  for (let i = 0; i < N && inLmdb.length < 50000; i += 3) inLmdb.push(key(i));
  const ITER = 500000;
  // Warm both, then alternate measurements.
  timeGets(lmdb, inLmdb, ITER);
  timeGets(lsm, inLmdb, ITER);
  const l: number[] = [];
  const s: number[] = [];
  for (let r = 0; r < 3; r++) {
    l.push(timeGets(lmdb, inLmdb, ITER));
    s.push(timeGets(lsm, inLmdb, ITER));
  }
  const lm = Math.min(...l);
  const sm = Math.min(...s);
  results.reads = {
    lmdbNsPerGet: Math.round(lm),
    lsmNsPerGet: Math.round(sm),
    ratio: Number((sm / lm).toFixed(2)),
    runsPresent: st.runs,
    lmdbKeys: st.lmdbKeys,
    bloomNegatives: lsm.stats().bloomNegatives,
    bloomChecks: lsm.stats().bloomChecks,
  };
  process.stdout.write(
    `reads: plain LMDB ${Math.round(lm)} ns/get, LSM with ${st.runs} runs ${Math.round(sm)} ns/get (LSM ÷ plain LMDB time per get ${(sm / lm).toFixed(2)}x)\n`,
  );
  await lmdb.close();
  await lsm.close();
}

async function recovery(): Promise<void> {
  for (const valueBytes of [100, 4096]) {
    const dir = freshDir();
    const value = Buffer.alloc(valueBytes, 0x62);
    const store = await openLsm(dir, { durability: 'none', memtableBytes: 4 * 1024 * 1024 * 1024 });
    const target = WAL_MIB * 1024 * 1024;
    let i = 0;
    while (Number(store.stats().walBytes) < target) {
      const ops: Promise<unknown>[] = [];
      for (let j = 0; j < 2000; j++) ops.push(store.put(key(i++), value));
      await Promise.all(ops);
    }
    const walBytes = Number(store.stats().walBytes);
    await store.close();
    const t0 = performance.now();
    const reopened = await openLsm(dir, { memtableBytes: 4 * 1024 * 1024 * 1024 });
    const ms = performance.now() - t0;
    const ok = reopened.get(key(i - 1)) !== undefined;
    await reopened.close();
    const mbps = walBytes / 1e6 / (ms / 1000);
    results[`recovery${valueBytes}`] = {
      walMiB: Math.round(walBytes / 1048576),
      records: i,
      valueBytes,
      openMs: Math.round(ms),
      replayMBps: Math.round(mbps),
      recordsPerS: Math.round(i / (ms / 1000)),
      lastKeyFound: ok,
    };
    process.stdout.write(
      `recovery (${valueBytes}-byte values): ${Math.round(walBytes / 1048576)} MiB WAL, ${i} records, reopened in ${Math.round(ms)} ms (${Math.round(mbps)} MB/s, ${Math.round(i / (ms / 1000))} records/s)\n`,
    );
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * recoveryDefault: the default memtable size (64 MiB) with 256 MiB of WAL on disk, kept by a
 * replica-retention hook as a lagging replica would; a restart replays only what is not yet in runs.
 */
async function recoveryDefault(): Promise<void> {
  const dir = freshDir();
  const store = await openLsm(dir, { durability: 'none', walRetentionBytes: 1 << 30 });
  store.replication.setRetention(() => 1);
  const target = WAL_MIB * 1024 * 1024;
  let i = 0;
  while (Number(store.stats().walBytes) < target) {
    if (i > 20_000_000) throw new Error('recovery-default: the WAL is not being retained');
    const ops: Promise<unknown>[] = [];
    for (let j = 0; j < 2000; j++) ops.push(store.put(key(i++), VALUE));
    await Promise.all(ops);
  }
  await store.idle();
  const st = store.stats();
  await store.close();
  const t0 = performance.now();
  const reopened = await openLsm(dir, { walRetentionBytes: 1 << 30 });
  const ms = performance.now() - t0;
  const ok = reopened.get(key(i - 1)) !== undefined && reopened.get(key(0)) !== undefined;
  const after = reopened.stats();
  await reopened.close();
  results.recoveryDefault = {
    walMiB: Math.round(Number(st.walBytes) / 1048576),
    records: i,
    runs: after.runs,
    replayedKeys: after.memtableKeys,
    openMs: Math.round(ms),
    keysFound: ok,
  };
  process.stdout.write(
    `recovery (default 64 MiB memtable, ${Math.round(Number(st.walBytes) / 1048576)} MiB WAL kept for a replica, ${i} records): reopened in ${Math.round(ms)} ms, replayed ${String(after.memtableKeys)} keys\n`,
  );
  rmSync(dir, { recursive: true, force: true });
}

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function compaction(): Promise<void> {
  const store = await openLsm(freshDir(), {
    durability: 'fsync',
    memtableBytes: 4 * 1024 * 1024,
    maxRuns: 4,
  });
  const during: number[] = [];
  const outside: number[] = [];
  const end = performance.now() + Math.max(SECONDS, 20) * 1000;
  let written = 0;
  await Promise.all(
    Array.from({ length: 50 }, async (_, w) => {
      while (performance.now() < end) {
        const t0 = performance.now();
        if (w % 5 === 0) store.get(key(Math.floor(Math.random() * Math.max(1, written))));
        else {
          await store.put(key(written++), VALUE);
        }
        const ms = performance.now() - t0;
        (store.stats().compactionRunning === 1 ? during : outside).push(ms);
        if (w % 5 === 0) await new Promise((r) => setImmediate(r));
      }
    }),
  );
  const st = store.stats();
  const summary = {
    compactions: st.compactions,
    compactionMsAvg: Math.round(Number(st.compactionMsTotal) / Math.max(1, Number(st.compactions))),
    opsDuring: during.length,
    p50DuringMs: pct(during, 50),
    p99DuringMs: pct(during, 99),
    opsOutside: outside.length,
    p50OutsideMs: pct(outside, 50),
    p99OutsideMs: pct(outside, 99),
  };
  results.compaction = summary;
  process.stdout.write(
    `compaction: ${String(st.compactions)} compactions (avg ${summary.compactionMsAvg} ms); p99 during ${pct(during, 99).toFixed(2)} ms (${during.length} ops), outside ${pct(outside, 99).toFixed(2)} ms (${outside.length} ops)\n`,
  );
  await store.close();
}

process.stdout.write(
  `# store-suite | node ${process.version} | ${availableParallelism()} CPUs (${cpus()[0]?.model ?? '?'}) | ${WHAT}\n`,
);
try {
  if (WHAT === 'all' || WHAT === 'writes') await writes();
  if (WHAT === 'all' || WHAT === 'reads') await reads();
  if (WHAT === 'all' || WHAT === 'recovery') {
    await recovery();
    await recoveryDefault();
  }
  if (WHAT === 'recovery-default') await recoveryDefault();
  if (WHAT === 'all' || WHAT === 'compaction') await compaction();
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  if (JSON_OUT !== '') writeFileSync(JSON_OUT, JSON.stringify(results, null, 2));
} finally {
  rmSync(root, { recursive: true, force: true });
}
