/**
 * MemtableArena: the slabs a memtable (memtable.ts) copies its keys and values into.
 *
 * Keys and values are copied into an arena of 1 MiB slabs and an entry records (slab, offset,
 * length): a memtable of a million values is not a million Buffers for the garbage collector to
 * trace. Overwritten bytes stay in the arena until the memtable is flushed. Small pieces are
 * appended to the current slab (`cur`); one over SLAB_BYTES/4 gets a slab of its own, which never
 * becomes the current slab, so nothing is ever appended after it.
 * Invariant: slabUsed ≤ slabSize = slabs[cur].length, and no two pieces' bytes overlap.
 *
 * Memtable extends it rather than holding one: every write copies through `copyIn` and reads
 * `copiedSlab` and `copiedOff` back on the memtable's own object, so the write path loads no
 * second object per write. Written only by its memtable's worker thread.
 */

/** SLAB_BYTES is the largest arena slab; slabs start at FIRST_SLAB_BYTES and double, so small memtables stay small. */
export const SLAB_BYTES = 1024 * 1024;
const FIRST_SLAB_BYTES = 4096;
/** COPY_LOOP_BYTES: pieces up to this size are copied by a loop (cheaper than a view and `set`). */
const COPY_LOOP_BYTES = 32;

/** MemtableArena holds a memtable's copied keys and values (see above). */
export class MemtableArena {
  /** slabs are the arena's slabs; a piece is found by its slab's index and its offset there. */
  protected readonly slabs: Buffer[] = [];
  /** cur is the slab small pieces are appended to (-1 before the first one); slabUsed of its slabSize bytes are taken. */
  private cur = -1;
  private slabUsed = 0;
  private slabSize = 0;
  /** copiedSlab and copiedOff say where `copyIn` put its piece. */
  protected copiedSlab = 0;
  protected copiedOff = 0;
  /**
   * pieceSrc is the last buffer `copyIn` copied a piece of, pieceBuffer its ArrayBuffer: `.buffer`
   * is a call into the runtime, and a replicated batch gives one piece per record in a row. Holds
   * that one batch until a piece of another is copied.
   */
  private pieceSrc: Uint8Array | undefined;
  private pieceBuffer: ArrayBufferLike | undefined;
  /** arenaBytes is the size of every slab allocated, used or not. */
  arenaBytes = 0;

  /** copyIn copies [start, end) of `src` into the arena and sets copiedSlab and copiedOff. */
  protected copyIn(src: Uint8Array, start: number, end: number): void {
    const len = end - start;
    if (len > SLAB_BYTES / 4) {
      // A dedicated slab: `cur`, slabUsed and slabSize keep describing the small-piece slab.
      this.slabs.push(Buffer.from(src.subarray(start, end)));
      this.arenaBytes += len;
      this.copiedSlab = this.slabs.length - 1;
      this.copiedOff = 0;
      return;
    }
    if (this.cur < 0 || this.slabUsed + len > this.slabSize) {
      this.slabSize = Math.min(SLAB_BYTES, Math.max(FIRST_SLAB_BYTES, this.slabSize * 2, len));
      this.slabs.push(Buffer.allocUnsafeSlow(this.slabSize));
      this.arenaBytes += this.slabSize;
      this.cur = this.slabs.length - 1;
      this.slabUsed = 0;
    }
    const slab = this.slabs[this.cur]!;
    const off = this.slabUsed;
    if (len <= COPY_LOOP_BYTES) for (let i = 0; i < len; i++) slab[off + i] = src[start + i]!;
    // A whole `src` (a leader's write) is copied as is; a piece of one (a replicated batch) through
    // a plain Uint8Array over it, not `src.subarray` (Buffer's goes through its species
    // constructor). Each makes no view, or one, per write; `.buffer` is a call into the runtime,
    // made once per batch (bufferOf).
    else if (start === 0 && end === src.length) slab.set(src, off);
    else slab.set(new Uint8Array(this.bufferOf(src), src.byteOffset + start, len), off);
    this.slabUsed += len;
    this.copiedSlab = this.cur;
    this.copiedOff = off;
  }

  /** bufferOf is `src.buffer`, asked of the runtime only when `src` is not the last piece's source. */
  private bufferOf(src: Uint8Array): ArrayBufferLike {
    if (src !== this.pieceSrc || this.pieceBuffer === undefined) {
      this.pieceSrc = src;
      this.pieceBuffer = src.buffer;
    }
    return this.pieceBuffer;
  }
}
