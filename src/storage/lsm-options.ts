/**
 * What an LSM store (lsm-store.ts) is opened with: its options (from the config, open-store.ts) and
 * the parts recovery (lsm-recovery.ts) opened and replayed for it.
 */
import type { Logger } from 'pino';
import type { LmdbLevel } from './lmdb-level.js';
import type { Memtable } from './memtable.js';
import type { BlockCache, RunReader } from './sstable-reader.js';
import type { StoreOptions } from './store.js';
import type { StoreLog } from './store-log.js';
import type { Vfs } from './vfs.js';

/** LsmOptions configure an LsmStore. */
export interface LsmOptions extends StoreOptions {
  vfs: Vfs;
  memtableBytes: number;
  maxRuns: number;
  walSegmentBytes: number;
  walRetentionBytes: number;
  blockCacheBytes: number;
  /** ringBytes bounds the recent log kept in memory for replicas. */
  ringBytes: number;
  repair: boolean;
  log?: Logger;
  /** idleCompactMs overrides IDLE_COMPACT_MS (compaction-scheduler.ts; tests). */
  idleCompactMs?: number;
  /** retryMinMs and retryMaxMs override the flush and compaction backoff bounds (backoff.ts). */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** dirCheckMs overrides DIR_CHECK_MS, how often the store checks its directory is still there (store-dir-watch.ts; tests). */
  dirCheckMs?: number;
}

/** LsmParts are what recovery hands to the store. */
export interface LsmParts {
  level: LmdbLevel;
  log: StoreLog;
  runs: RunReader[];
  frozen: Memtable[];
  active: Memtable;
  cache: BlockCache;
  nextRunNo: number;
  durableSeq: number;
  lastSeq: number;
  runsDir: string;
  /** logEpoch is the frame epoch of the store's last record, when its log still holds it. */
  logEpoch?: number;
}
