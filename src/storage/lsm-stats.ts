/**
 * lsmStats: the counters an LSM store reports for /stats and /metrics (lsm-store.ts), gathered from
 * its levels, its part of the commit log and its schedulers. Fields named `mem*Bytes` are the parts
 * of the memory the store holds, `memBytes` their sum (docs/operations.md, "Memory").
 */
import type { BlockCache, RunReader } from './sstable-reader.js';
import type { CompactionScheduler } from './compaction-scheduler.js';
import type { FlushQueue } from './flush-queue.js';
import type { LmdbLevel } from './lmdb-level.js';
import type { Memtable } from './memtable.js';
import type { StoreStats } from './store.js';
import type { StoreLog } from './store-log.js';

/** LsmCounters are what an LSM store counts itself (retired*: the bloom counters of compacted runs). */
export interface LsmCounters {
  compactions: number;
  compactionMsTotal: number;
  lastCompactionMs: number;
  retiredBloomChecks: number;
  retiredBloomNegatives: number;
  retiredBloomFalsePositives: number;
  /** retireFailures counts closes, unlinks and directory syncs of compacted runs that failed (lsm-compaction.ts). */
  retireFailures: number;
}

/** LsmState is what lsmStats reads of a store (read only). */
export interface LsmState {
  engine: string;
  level: LmdbLevel;
  log: StoreLog;
  active: Memtable;
  /** runs, newest first. */
  runs: readonly RunReader[];
  cache: BlockCache;
  lastSeq: number;
  /** durableSeq: every write ≤ it is in a synced run or in LMDB. */
  durableSeq: number;
  counters: Readonly<LsmCounters>;
  compaction: CompactionScheduler;
  flushes: FlushQueue;
}

/**
 * lsmKeys is an LSM store's `keys`: the values its levels hold, each level counted on its own
 * (LMDB's keys, each run's entries less its deletes, each memtable's keys less its deletes). Every
 * live key counts at least once, since its newest version is a value in some level; a key written
 * in more than one level since the last compaction counts once per level holding a value of it, and
 * a value deleted or expired in a newer level still counts in its own, until compaction merges the
 * levels into LMDB: an upper bound, exact once the runs and memtables are compacted (docs/api.md).
 * A delete never raises it. A level whose writes are all in a lower one already counts there only:
 * a frozen memtable whose run is written (the flush notes the run in LMDB before it lets the
 * memtable go), and runs a compaction merged into LMDB (up to `appliedSeq`) while it retires them.
 * They counted twice meanwhile, a jump of a memtable's, or every run's, values in DBSIZE. While a
 * compaction is still writing LMDB (in chunks, lsm-compaction.ts) the keys it added there count in
 * their runs too: this count cannot tell them apart (docs/api.md says so).
 */
export function lsmKeys(
  lmdbKeys: number,
  appliedSeq: number,
  runs: readonly RunReader[],
  active: Memtable,
  frozen: readonly Memtable[],
): number {
  // A run or memtable every write of which is in LMDB (at or under appliedSeq: a compaction wrote
  // it and is retiring its runs) or in a run is counted there only.
  const pendingRuns = runs.filter((r) => r.footer.maxSeq > appliedSeq);
  const covered = pendingRuns.reduce((seq, r) => Math.max(seq, r.footer.maxSeq), appliedSeq);
  const inRuns = pendingRuns.reduce((n, r) => n + r.footer.entries - r.footer.tombstones, 0);
  const pending = frozen.filter((m) => m.maxSeq > covered);
  return lmdbKeys + inRuns + [active, ...pending].reduce((n, m) => n + m.size - m.deletes, 0);
}

/** lsmStats returns a store's StoreStats. */
export function lsmStats(s: LsmState): StoreStats {
  const level = s.level.stats();
  const runBytes = s.runs.reduce((n, r) => n + r.bytes, 0);
  const frozenBytes = s.flushes.frozen.reduce((n, m) => n + m.bytes, 0);
  const bloom = s.runs.reduce(
    (a, r) => ({
      checks: a.checks + r.bloomChecks,
      negatives: a.negatives + r.bloomNegatives,
      fps: a.fps + r.bloomFalsePositives,
    }),
    {
      checks: s.counters.retiredBloomChecks,
      negatives: s.counters.retiredBloomNegatives,
      fps: s.counters.retiredBloomFalsePositives,
    },
  );
  const walBytes = s.log.logBytes();
  return {
    engine: s.engine,
    keys: lsmKeys(level.keys, s.level.appliedSeq(), s.runs, s.active, s.flushes.frozen),
    // The store's own files: its WAL is its worker's commit log, shared by the worker's stores
    // (walBytes reports that log, the same for each of them): counted here, a sum over the stores
    // counted it once per store of the worker.
    bytes: level.bytes + runBytes,
    lastSeq: s.lastSeq,
    appliedSeq: s.level.appliedSeq(),
    // "Durable" in the recovery sense: what needs no WAL replay. What is durable on disk is syncedSeq.
    flushedSeq: s.durableSeq,
    syncedSeq: s.log.syncedSeq,
    walSegments: s.log.logSegments(),
    walBytes,
    ...s.log.counters(),
    memtableBytes: s.active.bytes,
    memtableKeys: s.active.size,
    frozenMemtables: s.flushes.frozen.length,
    frozenBytes,
    runs: s.runs.length,
    runBytes,
    bloomChecks: bloom.checks,
    bloomNegatives: bloom.negatives,
    bloomFalsePositives: bloom.fps,
    blockCacheHits: s.cache.hits,
    blockCacheMisses: s.cache.misses,
    flushes: s.flushes.counters.flushes,
    flushMsTotal: s.flushes.counters.flushMsTotal,
    compactions: s.counters.compactions,
    compactionsForRuns: s.compaction.counts.runs,
    compactionsForReads: s.compaction.counts.reads,
    compactionsForIdle: s.compaction.counts.idle,
    compactionFailures: s.compaction.failures,
    flushFailures: s.flushes.failures,
    retireFailures: s.counters.retireFailures,
    compactionRunning: s.compaction.running === undefined ? 0 : 1,
    compactionMsTotal: s.counters.compactionMsTotal,
    lastCompactionMs: s.counters.lastCompactionMs,
    writeStalls: s.flushes.counters.writeStalls,
    lmdbKeys: level.keys,
    lmdbBytes: level.bytes,
    ...memoryStats(s),
  };
}

/** memoryStats are the parts of the memory the store holds (docs/operations.md, "Memory"). */
function memoryStats(s: LsmState): Record<`mem${string}`, number> {
  const parts = {
    memMemtableBytes: s.active.memoryBytes,
    memFrozenBytes: s.flushes.frozen.reduce((n, m) => n + m.memoryBytes, 0),
    memBlockCacheBytes: s.cache.memoryBytes,
    memReplicationLogBytes: s.log.memoryBytes,
    memWalBufferBytes: s.log.bufferBytes,
  };
  return { ...parts, memBytes: Object.values(parts).reduce((a, b) => a + b, 0) };
}
