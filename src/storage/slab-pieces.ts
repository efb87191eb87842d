/**
 * SlabPieces: buffers handed out as pieces of larger slabs, for the many short-lived buffers of a
 * hot path (a commit-log batch per group commit, commit-log-batch.ts; a store's copy of its part
 * of each batch, store-log-kept.ts), so that each is not an ArrayBuffer of its own for the
 * collector to track and sweep.
 *
 * A piece is handed out once and never written by SlabPieces after, so a view of it stays valid
 * while it is held; a slab lives while any piece of it is, and a slab that was left is never
 * reused. A piece over a quarter of a slab gets a buffer of its own. Pieces are not zeroed: their
 * owner writes every byte before reading it. Used only on one thread.
 */

/** SlabPieces carves pieces out of slabs of `slabBytes` (see the module comment). */
export class SlabPieces {
  private readonly slabBytes: number;
  private readonly align: number;
  private slab: Buffer | undefined;
  private used = 0;

  /** `slabBytes` is each slab's size; pieces start at multiples of `align` (a power of two). */
  constructor(slabBytes: number, align = 1) {
    this.slabBytes = slabBytes;
    this.align = align;
  }

  /** take returns `size` bytes no other piece shares, their contents undefined. */
  take(size: number): Buffer {
    if (size > this.slabBytes / 4) return Buffer.allocUnsafeSlow(size);
    if (this.slab === undefined || this.used + size > this.slabBytes) {
      this.slab = Buffer.allocUnsafeSlow(this.slabBytes);
      this.used = 0;
    }
    const piece = this.slab.subarray(this.used, this.used + size);
    this.used += (size + this.align - 1) & ~(this.align - 1);
    return piece;
  }
}
