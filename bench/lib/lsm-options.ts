/**
 * The LSM store options the storage benchmarks open their stores with: large memtables and WAL
 * segments (no flush or segment switch inside a short run), no retention, a real filesystem.
 */
import type { Durability } from '../../src/config/schema.js';
import type { LsmOptions } from '../../src/storage/lsm-options.js';
import { RealVfs } from '../../src/storage/real-vfs.js';

/** benchLsmOptions returns the options of a benchmark store in `dir` with `durability`. */
export function benchLsmOptions(dir: string, durability: Durability): LsmOptions {
  return {
    dir,
    vfs: new RealVfs(),
    durability,
    fsyncIntervalMs: 100,
    memtableBytes: 64 * 1024 * 1024,
    maxRuns: 4,
    walSegmentBytes: 64 * 1024 * 1024,
    walRetentionBytes: 0,
    blockCacheBytes: 16 * 1024 * 1024,
    ringBytes: 8 * 1024 * 1024,
    repair: false,
  };
}
