/**
 * Unsettled: the writes of a worker's stores that have not settled yet (durable or failed), which
 * is what a fence waits for: once they settle, the store's last seq covers every write accepted
 * before the fence (store-writes.ts).
 *
 * Every write passes through here and stays for one group commit, so, as pending-writes.ts, it is
 * a grow-only table rather than a Set per store (a Set's table is reallocated as it grows and
 * shrinks with the writes in flight): slots with stable numbers, each holding a store index and a
 * write's promise, freed slots reused from a stack, the arrays doubled when full and never shrunk.
 * A fence (rare) reads every slot. Invariant: a slot holds a promise exactly while its write is
 * unsettled; `add`'s slot is deleted exactly once.
 *
 * Owned by one shard worker thread.
 */

/** Unsettled holds, by slot, the writes not yet settled and their store index. */
export class Unsettled {
  private stores: Int32Array;
  private readonly writes: (Promise<unknown> | undefined)[] = [];
  /** free holds freed slot numbers (a stack of `freeTop`); `used` slots were ever taken. */
  private free: Int32Array;
  private freeTop = 0;
  private used = 0;

  /** `capacity` is the number of slots to start with (it doubles as needed). */
  constructor(capacity = 256) {
    const n = Math.max(1, capacity);
    this.stores = new Int32Array(n);
    this.free = new Int32Array(n);
  }

  /** add holds `write` of store `store` until `delete` of the slot it returns. */
  add(store: number, write: Promise<unknown>): number {
    let slot: number;
    if (this.freeTop > 0) slot = this.free[--this.freeTop]!;
    else {
      if (this.used === this.stores.length) this.grow();
      this.writes.push(undefined);
      slot = this.used++;
    }
    this.stores[slot] = store;
    this.writes[slot] = write;
    return slot;
  }

  /** delete forgets the write in `slot` (it has settled). */
  delete(slot: number): void {
    this.writes[slot] = undefined;
    this.free[this.freeTop++] = slot;
  }

  /** of returns store `store`'s unsettled writes, in no particular order. */
  of(store: number): Promise<unknown>[] {
    const out: Promise<unknown>[] = [];
    for (let i = 0; i < this.used; i++) {
      const w = this.writes[i];
      if (w !== undefined && this.stores[i] === store) out.push(w);
    }
    return out;
  }

  /** grow doubles the slot arrays (slot numbers stay). */
  private grow(): void {
    const n = this.stores.length * 2;
    const stores = new Int32Array(n);
    stores.set(this.stores);
    this.stores = stores;
    const free = new Int32Array(n);
    free.set(this.free);
    this.free = free;
  }
}
