/**
 * Unsettled: the writes of a worker's stores that have not settled yet (durable or failed), which
 * is what a fence waits for: once they settle, the store's last seq covers every write accepted
 * before the fence (store-writes.ts).
 *
 * Every write passes through here and stays for one group commit, so, as pending-writes.ts, it is
 * a grow-only table rather than a Set per store (a Set's table is reallocated as it grows and
 * shrinks with the writes in flight): slots with stable numbers (slot-pool.ts), each holding a
 * store index and a write's promise.
 * A fence (rare) reads every slot. Invariant: a slot holds a promise exactly while its write is
 * unsettled; `add`'s slot is deleted exactly once.
 *
 * Owned by one shard worker thread.
 */
import { grown, SlotPool } from './slot-pool.js';

/** Unsettled holds, by slot, the writes not yet settled and their store index. */
export class Unsettled {
  private stores: Int32Array;
  private readonly writes: (Promise<unknown> | undefined)[] = [];
  private readonly slots: SlotPool;

  /** `capacity` is the number of slots to start with (it doubles as needed). */
  constructor(capacity = 256) {
    this.slots = new SlotPool(capacity, {
      grow: (n) => {
        this.stores = grown(this.stores, new Int32Array(n));
      },
      added: () => {
        this.writes.push(undefined);
      },
    });
    this.stores = new Int32Array(this.slots.capacity);
  }

  /** add holds `write` of store `store` until `delete` of the slot it returns. */
  add(store: number, write: Promise<unknown>): number {
    const slot = this.slots.take();
    this.stores[slot] = store;
    this.writes[slot] = write;
    return slot;
  }

  /** delete forgets the write in `slot` (it has settled). */
  delete(slot: number): void {
    this.writes[slot] = undefined;
    this.slots.release(slot);
  }

  /** of returns store `store`'s unsettled writes, in no particular order. */
  of(store: number): Promise<unknown>[] {
    const out: Promise<unknown>[] = [];
    const used = this.slots.used;
    for (let i = 0; i < used; i++) {
      const w = this.writes[i];
      if (w !== undefined && this.stores[i] === store) out.push(w);
    }
    return out;
  }
}
