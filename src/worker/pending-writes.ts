/**
 * PendingWrites: per store, the newest value written to each key whose write is not yet durable.
 *
 * A store applies a write to what `get` sees only once it is durable (after the group commit's
 * fsync), so two read-modify-write ops on one key in the same batch would both read the old value.
 * The shard host records every write here when it issues it and settles it when the store reports
 * it durable (or failed); read-modify-write ops look here first, so they chain on writes in flight.
 * A plain read never sees a write that is not durable yet (it could still fail and vanish): it waits
 * for `settled` of the key's newest write, then reads the store. An entry counts the writes in flight
 * on its key and goes away when the last one settles. `null` is a pending delete; a pending put
 * whose TTL has run out reads as one (a key is invisible from the moment it expires, durable or not).
 * A write conditioned on the key's version (OP_PUT_EXT/OP_DELETE_EXT) cannot be checked against a
 * write in flight, whose seq is known only once it is durable: it waits for `settled` (which
 * resolves with that seq), then is checked again against the store.
 *
 * Owned by one shard worker thread; values are views into request batches, kept alive until settled.
 */
import type { WriteResult } from '../storage/store.js';
import { latin1Key } from '../util/bytes.js';

interface Pending {
  value: Uint8Array | null;
  /** expiresAtMs is the put's expiry (epoch ms; 0 = none). */
  expiresAtMs: number;
  inFlight: number;
  /** settled resolves (with its seq) when the newest write noted on this key is durable, or rejects when it failed. */
  settled: Promise<WriteResult>;
}

/** PendingWrites tracks writes in flight by store index and key. */
export class PendingWrites {
  private readonly byStore = new Map<number, Map<string, Pending>>();

  /** note records a write of `value` (null = delete) to `key` and returns the handle to settle it with. */
  note(
    store: number,
    key: Uint8Array,
    value: Uint8Array | null,
    settled: Promise<WriteResult>,
    expiresAtMs = 0,
  ): string {
    let keys = this.byStore.get(store);
    if (keys === undefined) this.byStore.set(store, (keys = new Map<string, Pending>()));
    const k = latin1Key(key);
    const p = keys.get(k);
    if (p === undefined) keys.set(k, { value, expiresAtMs, inFlight: 1, settled });
    else {
      p.value = value;
      p.expiresAtMs = expiresAtMs;
      p.inFlight++;
      p.settled = settled;
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

  /** get returns the newest pending value of `key` (null = a pending delete or an expired put), or undefined when none is pending. */
  get(store: number, key: Uint8Array): Uint8Array | null | undefined {
    const p = this.newest(store, key);
    if (p === undefined) return undefined;
    return p.expiresAtMs === 0 ? p.value : liveValue(p, Date.now());
  }

  /** newest returns the newest pending write of `key` (read its value with `liveValue`), or undefined when none is pending. */
  newest(store: number, key: Uint8Array): Readonly<Pending> | undefined {
    const keys = this.byStore.get(store);
    if (keys === undefined || keys.size === 0) return undefined;
    return keys.get(latin1Key(key));
  }

  /** settledOf returns a promise of the newest pending write on `key` settling, or undefined when none is pending. */
  settledOf(store: number, key: Uint8Array): Promise<WriteResult> | undefined {
    const keys = this.byStore.get(store);
    if (keys === undefined || keys.size === 0) return undefined;
    return keys.get(latin1Key(key))?.settled;
  }
}

/** liveValue is a pending write's value as a read at `nowMs` sees it: null once its TTL has run out. */
export function liveValue(
  p: { value: Uint8Array | null; expiresAtMs: number },
  nowMs: number,
): Uint8Array | null {
  return p.value !== null && p.expiresAtMs > 0 && p.expiresAtMs <= nowMs ? null : p.value;
}
