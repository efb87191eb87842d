/**
 * PendingWrites: per store, the newest value written to each key whose write is not yet durable.
 *
 * A store applies a write to what `get` sees only once it is durable (after the group commit's
 * fsync), so two read-modify-write ops on one key in the same batch would both read the old value.
 * The shard host records every write here when it issues it and settles it when the store reports
 * it durable (or failed); reads and read-modify-write ops look here first. An entry counts the
 * writes in flight on its key and goes away when the last one settles. `null` is a pending delete.
 *
 * Owned by one shard worker thread; values are views into request batches, kept alive until settled.
 */
import { latin1Key } from '../util/bytes.js';

interface Pending {
  value: Uint8Array | null;
  inFlight: number;
}

/** PendingWrites tracks writes in flight by store index and key. */
export class PendingWrites {
  private readonly byStore = new Map<number, Map<string, Pending>>();

  /** note records a write of `value` (null = delete) to `key` and returns the handle to settle it with. */
  note(store: number, key: Uint8Array, value: Uint8Array | null): string {
    let keys = this.byStore.get(store);
    if (keys === undefined) this.byStore.set(store, (keys = new Map<string, Pending>()));
    const k = latin1Key(key);
    const p = keys.get(k);
    if (p === undefined) keys.set(k, { value, inFlight: 1 });
    else {
      p.value = value;
      p.inFlight++;
    }
    return k;
  }

  /** settle marks one write of `note`'s handle `k` as finished (durable or failed). */
  settle(store: number, k: string): void {
    const keys = this.byStore.get(store);
    const p = keys?.get(k);
    if (keys === undefined || p === undefined) return;
    if (--p.inFlight === 0) keys.delete(k);
  }

  /** get returns the newest pending value of `key` (null = a pending delete), or undefined when none is pending. */
  get(store: number, key: Uint8Array): Uint8Array | null | undefined {
    const keys = this.byStore.get(store);
    if (keys === undefined || keys.size === 0) return undefined;
    return keys.get(latin1Key(key))?.value;
  }
}
