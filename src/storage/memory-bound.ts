/**
 * The memory bound of a distkv process as a formula of its settings (docs/operations.md, "Memory").
 *
 * Per LSM store (leader or replica), what it holds beyond LMDB's file-backed map; each part but
 * compaction is a `mem*` field of the store's stats:
 *   memtables        4/3 × (1 + MAX_FROZEN) × (memtable_bytes + max_value_bytes) + 2 MiB
 *                    (the active memtable and the frozen ones waiting to flush; one freezes once
 *                    over memtable_bytes, so it exceeds it by at most one value; its arena wastes
 *                    at most a quarter of each 1 MiB slab, plus the slab being filled and the
 *                    small first slabs)
 *   block cache      block_cache_bytes + max_value_bytes (a block holds at least one whole entry)
 *   replication log  ring_bytes + max_value_bytes (recent batches; the newest is always kept) in
 *                    slabs of the store's own (store-log-kept.ts: the one being filled and the
 *                    oldest one's dropped front, KEPT_SLAB_BYTES each), plus 1 MiB +
 *                    max_value_bytes (the window a lagging replica's records are read in)
 *   compaction       CHUNK_BYTES + max_value_bytes (one LMDB transaction's values)
 * Per process: BASE_BYTES (Node, V8 heaps, code, threads), and each write in flight holds its value
 * about IN_FLIGHT_COPIES times (request body, batch to the worker, WAL buffer, written batch).
 */
import { CHUNK_BYTES } from './lsm-compaction.js';
import { MAX_FROZEN } from './flush-queue.js';
import { SLAB_BYTES } from './memtable-arena.js';
import { WINDOW_BYTES } from './commit-log-cursor.js';
import { KEPT_SLAB_BYTES } from './store-log-kept.js';

/** BASE_BYTES is the anonymous memory of a process with idle stores (about 55 MB measured) plus room for its V8 heaps to grow under load. */
export const BASE_BYTES = 160 * 1024 * 1024;
/** IN_FLIGHT_COPIES is how many copies of a value a write in flight holds at most. */
export const IN_FLIGHT_COPIES = 4;

/** MemorySettings are what the bound depends on. */
export interface MemorySettings {
  /** stores is the number of LSM stores (leaders and replicas) in the process. */
  stores: number;
  memtableBytes: number;
  maxValueBytes: number;
  ringBytes: number;
  blockCacheBytes: number;
  /** inFlightWrites is the number of writes clients keep in flight at once. */
  inFlightWrites: number;
}

/** MemoryBound is the bound per store and for the process, and the formula as text. */
export interface MemoryBound {
  perStoreBytes: number;
  totalBytes: number;
  formula: string;
}

/** memoryBound computes the bound of anonymous memory for `s` (see the module comment). */
export function memoryBound(s: MemorySettings): MemoryBound {
  const v = s.maxValueBytes;
  const memtables = Math.ceil(((1 + MAX_FROZEN) * (s.memtableBytes + v) * 4) / 3) + 2 * SLAB_BYTES;
  const blockCache = s.blockCacheBytes + v;
  const replicationLog = s.ringBytes + v + 2 * KEPT_SLAB_BYTES + WINDOW_BYTES + v;
  const compaction = CHUNK_BYTES + v;
  const perStoreBytes = memtables + blockCache + replicationLog + compaction;
  return {
    perStoreBytes,
    totalBytes: BASE_BYTES + s.stores * perStoreBytes + IN_FLIGHT_COPIES * s.inFlightWrites * v,
    formula:
      '160 MiB + stores × (4 × (memtable_bytes + max_value_bytes) + ring_bytes + block_cache_bytes + 4 × max_value_bytes + 7.5 MiB) + 4 × writes in flight × max_value_bytes',
  };
}
