/**
 * Opening LSM stores in tests: small memtables and runs so flushes and compactions happen within a
 * few hundred writes, on the real file system or on a FaultyVfs (LMDB always on a temp dir).
 */
import { openLsmStore } from '../../src/storage/lsm-recovery.js';
import type { LsmStore } from '../../src/storage/lsm-store.js';
import { RealVfs } from '../../src/storage/real-vfs.js';
import type { Vfs } from '../../src/storage/vfs.js';
import type { Durability } from '../../src/config/schema.js';

/** TestLsmOptions override the small defaults. */
export interface TestLsmOptions {
  vfs?: Vfs;
  memtableBytes?: number;
  maxRuns?: number;
  walSegmentBytes?: number;
  durability?: Durability;
  repair?: boolean;
  ringBytes?: number;
  /** clock is the time expiries are compared with (default Date.now). */
  clock?: () => number;
}

/** openTestLsm opens an LsmStore in `dir` with small limits. */
export function openTestLsm(dir: string, o: TestLsmOptions = {}): Promise<LsmStore> {
  return openLsmStore({
    dir,
    vfs: o.vfs ?? new RealVfs(),
    durability: o.durability ?? 'fsync',
    fsyncIntervalMs: 20,
    memtableBytes: o.memtableBytes ?? 64 * 1024,
    maxRuns: o.maxRuns ?? 3,
    walSegmentBytes: o.walSegmentBytes ?? 32 * 1024,
    walRetentionBytes: 0,
    blockCacheBytes: 1 << 20,
    ringBytes: o.ringBytes ?? 1 << 20,
    repair: o.repair ?? false,
    ...(o.clock === undefined ? {} : { clock: o.clock }),
  });
}
