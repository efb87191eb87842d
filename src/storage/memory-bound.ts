/**
 * The memory bound of LSM stores as a formula of the settings (docs/operations.md, "Memory").
 *
 * Per store, what it holds in memory beyond LMDB's file-backed map (each part is a `mem*` field of
 * the store's stats):
 *   memtables      (1 + MAX_FROZEN) × (memtable_bytes + max_value_bytes) × 4/3 + 2 MiB
 *                  (active plus frozen ones waiting to flush; a memtable freezes once over
 *                  memtable_bytes, so it exceeds it by at most one value; the arena wastes at
 *                  most a quarter of each 1 MiB slab, plus the slab being filled and the small
 *                  first slabs)
 *   block cache    BLOCK_CACHE_BYTES + one block (a block holds at least one whole entry)
 *   replication log ring_bytes + one batch, plus one WAL segment read for a lagging replica
 *                  (wal_segment_bytes + one batch)
 *   WAL buffer     one group-commit batch
 *   compaction     COMPACTION_CHUNK_BYTES + one value, and one block per input run
 * A batch is at most BATCH_VALUES values of max_value_bytes (what one event-loop turn can bring).
 * Plus, per process, BASE_BYTES for Node, V8 and the code.
 */
import { BLOCK_CACHE_BYTES } from './open-store.js';
import { MAX_FROZEN } from './lsm-store.js';
import { SLAB_BYTES } from './memtable.js';

/** BASE_BYTES is what a distkv process holds with empty stores (Node, V8, code, threads), measured. */
export const BASE_BYTES = 160 * 1024 * 1024;

/** MemorySettings are the settings the bound depends on. */
export interface MemorySettings {
  /** stores is the number of stores (leaders and replicas) in the process. */
  stores: number;
  memtableBytes: number;
  maxValueBytes: number;
  ringBytes: number;
  walSegmentBytes: number;
}

/** MemoryBound is the bound, its parts per store, and the formula as text. */
export interface MemoryBound {
  perStoreBytes: number;
  totalBytes: number;
  formula: string;
}

/** memoryBound computes the bound for `s` (see the module comment). */
export function memoryBound(s: MemorySettings): MemoryBound {
  const memtables =
    Math.ceil(((1 + MAX_FROZEN) * (s.memtableBytes + s.maxValueBytes) * 4) / 3) + 2 * SLAB_BYTES;
  const blockCache = BLOCK_CACHE_BYTES + s.maxValueBytes;
  const replicationLog = s.ringBytes + s.walSegmentBytes + 2 * s.maxValueBytes;
  const perStoreBytes = memtables + blockCache + replicationLog;
  return {
    perStoreBytes,
    totalBytes: BASE_BYTES + s.stores * perStoreBytes,
    formula: `160 MiB + stores × (3 × (memtable_bytes + max_value_bytes) × 4/3 + 2 MiB + 16 MiB + ring_bytes + wal_segment_bytes + 3 × max_value_bytes)`,
  };
}
