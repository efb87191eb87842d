/**
 * KeptRecords: a store's own copy of its written parts, which its recent log (wal-tail.ts) keeps
 * for replicas and watchers instead of the commit log batches they were written in.
 *
 * Why a copy: a batch holds every store's part of one group commit, and is a piece of a slab
 * (commit-log-batch.ts). Kept by the tail, one store's recent records held the whole slabs they
 * were written in, every other store's parts included: for a store written seldom beside busy
 * ones, `ring_bytes` of its records held up to a slab each, far over what `/stats` counts
 * (`memReplicationLogBytes`) and docs/operations.md bounds. Copied here, the tail holds this
 * store's bytes only, in slabs of its own written in seq order, at most ring_bytes plus the slab
 * being filled and the oldest slab's dropped front (KEPT_SLAB_BYTES each); the batch itself is let
 * go once written and synced. The copy is one memmove of the part per batch.
 *
 * The slabs are slab-pieces.ts's: a piece is handed out once and never written after, so a view of
 * it (a replica's pull) stays valid while it is held. Used only on the store's worker thread.
 */
import { SlabPieces } from './slab-pieces.js';

/** KEPT_SLAB_BYTES is the largest slab parts are copied into; a part over a quarter of its slab gets a buffer of its own. */
export const KEPT_SLAB_BYTES = 256 * 1024;
const FIRST_SLAB_BYTES = 4096;

/** KeptRecords copies a store's written parts into slabs of its own (see the module comment). */
export class KeptRecords {
  private readonly pieces: SlabPieces;
  /** holder and at: where `keep` put its copy (a piece of a slab, or a buffer of its own, and the offset in it). */
  holder: Buffer = Buffer.alloc(0);
  at = 0;

  /** `ringBytes` is what the tail keeps: slabs are an eighth of it, from 4 KiB to KEPT_SLAB_BYTES. */
  constructor(ringBytes: number) {
    this.pieces = new SlabPieces(Math.min(KEPT_SLAB_BYTES, Math.max(FIRST_SLAB_BYTES, ringBytes >>> 3)));
  }

  /** keep copies `records` and sets `holder` and `at` to where the copy is. */
  keep(records: Uint8Array): void {
    this.holder = this.pieces.take(records.length);
    this.holder.set(records, 0);
    this.at = 0;
  }
}
