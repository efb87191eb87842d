/**
 * SlotPool: the slot numbers of a grow-only table of things in flight, shared by the shard
 * worker's tables of writes not yet settled (pending-writes.ts, unsettled.ts). Every write passes
 * through those tables and stays for one group commit, so they keep their state in arrays indexed
 * by a slot number that never changes (typed arrays where they can) instead of objects in Maps or
 * Sets, and they never shrink (docs/performance.md, "Pending writes as a grow-only table").
 *
 * `take` returns the slot freed last (a stack), else the next slot never taken; before a new slot
 * would pass the capacity, the pool doubles it and its owner's `grow` doubles every per-slot
 * array (slot numbers stay). A slot taken for the first time is announced to the owner's `added`,
 * which appends it to the arrays that grow by push. `release` puts a slot back.
 * Invariants: slots 0..used-1 have been taken at least once; a slot is taken or on the free stack,
 * never both (the owner releases each slot it took exactly once); capacity >= used.
 *
 * Owned by one shard worker thread, inside the table that uses it.
 */

/** SlotColumns is what a SlotPool's owner keeps per slot: how its arrays follow the pool. */
export interface SlotColumns {
  /** grow makes every per-slot typed array hold `capacity` slots, keeping their contents. */
  grow(capacity: number): void;
  /** added appends slot `slot`, taken for the first time, to the arrays that grow by push. */
  added(slot: number): void;
}

/** SlotPool hands out and takes back slot numbers. */
export class SlotPool {
  /** free holds released slot numbers (a stack of `freeTop`); its length is the capacity. */
  private free: Int32Array;
  private freeTop = 0;
  private taken = 0;
  private readonly columns: SlotColumns;

  /** `capacity` is the number of slots to start with (at least 1; it doubles as needed). */
  constructor(capacity: number, columns: SlotColumns) {
    this.free = new Int32Array(Math.max(1, capacity));
    this.columns = columns;
  }

  /** capacity is how many slots the owner's typed arrays hold. */
  get capacity(): number {
    return this.free.length;
  }

  /** used is the number of slots ever taken: slots 0..used-1. */
  get used(): number {
    return this.taken;
  }

  /** take returns a free slot number, growing the pool (and its owner's arrays) when none is left. */
  take(): number {
    if (this.freeTop > 0) return this.free[--this.freeTop]!;
    if (this.taken === this.free.length) {
      this.free = grown(this.free, new Int32Array(this.free.length * 2));
      this.columns.grow(this.free.length);
    }
    this.columns.added(this.taken);
    return this.taken++;
  }

  /** release gives back `slot`, taken by `take`; call it exactly once per take. */
  release(slot: number): void {
    this.free[this.freeTop++] = slot;
  }
}

/** grown copies `from` into the start of `to` and returns `to` (a per-slot array's growth). */
export function grown<T extends Uint8Array | Int32Array | Uint32Array | Float64Array>(from: T, to: T): T {
  to.set(from);
  return to;
}
