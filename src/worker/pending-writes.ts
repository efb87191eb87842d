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
 * Layout (issue 18): every write passes through here, and an entry lives for one group commit
 * (1-10 ms), long enough to outlive a scavenge; an object and a key string per write, in Maps that
 * grew and shrank with the writes in flight, had V8 promote hundreds of bytes per write to the old
 * generation (docs/performance.md, "Pending writes as a grow-only table"). So the table never
 * shrinks and a write allocates nothing it keeps:
 *  - entries have stable numbers (slot-pool.ts: a freed one is reused first); their store,
 *    key hash, writes in flight, expiry and key length live in typed arrays, their key bytes in a
 *    buffer per entry (kept when the entry is freed, replaced only by a longer key), and their
 *    value and `settled` promise in parallel arrays (cleared when freed, so nothing is kept alive);
 *  - an open-addressing index of entry numbers + 1 (0 = empty; linear probing, at most half full,
 *    its length a power of two) finds the entry of (store, key bytes); deletion shifts the entries
 *    after it back (no tombstones), so a probe run ends at the first empty slot.
 * Invariant: an entry is in the index exactly when inFlight > 0; every note's handle (its entry
 * number) is settled exactly once, and the entry is freed when its last write settles.
 *
 * Owned by one shard worker thread; values are views into request batches, kept alive until settled.
 */
import type { WriteResult } from '../storage/store.js';
import { fmix32, hashBytes } from '../storage/key-hash.js';
import { grown, SlotPool } from './slot-pool.js';

/** KeyHash hashes a store index and a key to 32 bits (tests pass a weak one to force collisions). */
export type KeyHash = (store: number, key: Uint8Array) => number;

/**
 * Settling is how a noted write tells its outcome: its promise, or the number of its ticket
 * (write-tickets.ts), whose promise the `tickets` function given to PendingWrites makes on demand.
 */
export type Settling = Promise<WriteResult> | number;

/** storeKeyHash is the default KeyHash: key-hash.ts's seeded hash of the bytes, mixed with the store. */
export function storeKeyHash(store: number, key: Uint8Array): number {
  return fmix32(hashBytes(key, 0, key.length) + Math.imul(store + 1, 0x9e3779b1));
}

/** MIN_KEY_BYTES is the smallest key buffer an entry gets (short keys then never need another). */
const MIN_KEY_BYTES = 32;

/** PendingWrites tracks writes in flight by store index and key. */
export class PendingWrites {
  private readonly hash: KeyHash;
  /** index holds entry number + 1 (0 = empty) at the (store, key)'s hash position. */
  private index: Int32Array;
  private mask: number;
  /** live counts the entries in the index (keys with a write in flight). */
  private live = 0;
  private stores: Int32Array;
  private hashes: Uint32Array;
  private inFlight: Int32Array;
  private expiries: Float64Array;
  private keyLens: Int32Array;
  private readonly keys: Uint8Array[] = [];
  private readonly values: (Uint8Array | null)[] = [];
  private readonly settledPs: (Settling | undefined)[] = [];
  /** heldOutcomes release, by entry, the outcome of a newest write that settled before older ones (`settleNoted`). */
  private readonly heldOutcomes = new Map<number, () => void>();
  /** tickets makes the promise of a write noted with a ticket number. */
  private readonly tickets: (ticket: number) => Promise<WriteResult>;
  /** entries hands out the entry numbers. */
  private readonly entries: SlotPool;

  /**
   * `capacity` is the number of entries to start with (it doubles as needed); `hash` defaults to
   * storeKeyHash; `tickets` makes the promise of a write noted with a ticket number.
   */
  constructor(
    capacity = 256,
    hash: KeyHash = storeKeyHash,
    tickets: (ticket: number) => Promise<WriteResult> = noTickets,
  ) {
    this.hash = hash;
    this.tickets = tickets;
    const n = Math.max(2, capacity);
    this.entries = new SlotPool(n, {
      grow: (c) => {
        this.growEntries(c);
      },
      added: () => {
        this.keys.push(new Uint8Array(MIN_KEY_BYTES));
        this.values.push(null);
        this.settledPs.push(undefined);
      },
    });
    this.index = new Int32Array(indexSizeFor(n));
    this.mask = this.index.length - 1;
    this.stores = new Int32Array(n);
    this.hashes = new Uint32Array(n);
    this.inFlight = new Int32Array(n);
    this.expiries = new Float64Array(n);
    this.keyLens = new Int32Array(n);
  }

  /** size is the number of keys with a write in flight, over all stores. */
  get size(): number {
    return this.live;
  }

  /** note records a write of `value` (null = delete) to `key` and returns the handle to settle it with. */
  note(store: number, key: Uint8Array, value: Uint8Array | null, settled: Settling, expiresAtMs = 0): number {
    const h = this.hash(store, key) >>> 0;
    let e = this.lookup(store, key, h);
    if (e < 0) {
      e = this.entries.take();
      this.stores[e] = store;
      this.hashes[e] = h;
      this.inFlight[e] = 0;
      let kb = this.keys[e]!;
      if (kb.length < key.length) this.keys[e] = kb = new Uint8Array(Math.max(MIN_KEY_BYTES, key.length * 2));
      kb.set(key);
      this.keyLens[e] = key.length;
      if (++this.live * 2 > this.index.length) this.growIndex();
      this.place(e, h);
    }
    this.values[e] = value;
    this.expiries[e] = expiresAtMs;
    this.inFlight[e]!++;
    if (this.heldOutcomes.size > 0) this.releaseOutcome(e);
    this.settledPs[e] = settled;
    return e;
  }

  /** settle marks one write of `note`'s handle as finished (durable or failed); call it exactly once per note. */
  settle(handle: number): void {
    if (--this.inFlight[handle]! > 0) return;
    if (this.heldOutcomes.size > 0) this.releaseOutcome(handle);
    this.unplace(handle);
    this.live--;
    this.values[handle] = null;
    this.settledPs[handle] = undefined;
    this.entries.release(handle);
  }

  /**
   * settleTicket is `settle` for a write noted with ticket number `ticket`, durable as `seq` or
   * refused with `err`; see `settleNoted`.
   */
  settleTicket(handle: number, ticket: number, seq: number, err: Error | undefined): void {
    if (this.inFlight[handle]! > 1 && this.settledPs[handle] === ticket)
      this.holdOutcome(handle, err === undefined ? Promise.resolve({ seq }) : refusedWith(err));
    this.settle(handle);
  }

  /**
   * settleNoted is `settle` for a write noted with promise `settled`, now settled. When a key's
   * newest write settles while older ones stay in flight (refused at once, or answered through its
   * sink a microtask before an older promised write), the entry's `settledAt` becomes the promise of
   * that outcome once the older ones settled too (or a newer write is noted): a ticket's number
   * names its next write once it is answered, and an outcome already settled would have whoever
   * waits for the key's writes to settle before retrying (a conditional write, a transaction, the
   * reaper) retry at once, in a loop of microtasks that keeps the older writes' I/O from running.
   */
  settleNoted(handle: number, settled: Promise<WriteResult>): void {
    if (this.inFlight[handle]! > 1 && this.settledPs[handle] === settled) this.holdOutcome(handle, settled);
    this.settle(handle);
  }

  /** holdOutcome makes entry `e`'s `settledAt` settle as `outcome` once `releaseOutcome(e)` runs. */
  private holdOutcome(e: number, outcome: Promise<WriteResult>): void {
    this.releaseOutcome(e);
    let release!: () => void;
    const held = new Promise<WriteResult>((resolve) => {
      release = () => {
        resolve(outcome);
      };
    });
    held.catch(() => undefined);
    this.heldOutcomes.set(e, release);
    this.settledPs[e] = held;
  }

  /** releaseOutcome settles entry `e`'s held outcome, if any (its older writes settled, or a newer one was noted). */
  private releaseOutcome(e: number): void {
    const release = this.heldOutcomes.get(e);
    if (release === undefined) return;
    this.heldOutcomes.delete(e);
    release();
  }

  /** find returns the entry of `key`'s newest pending write, or -1 when none is pending; it is valid until the next settle. */
  find(store: number, key: Uint8Array): number {
    if (this.live === 0) return -1;
    return this.lookup(store, key, this.hash(store, key) >>> 0);
  }

  /** valueAt is entry `e`'s value (null = a pending delete), expired or not (liveValue reads it at a time). */
  valueAt(e: number): Uint8Array | null {
    return this.values[e] ?? null;
  }

  /** expiresAt is entry `e`'s expiry (epoch ms; 0 = none). */
  expiresAt(e: number): number {
    return this.expiries[e]!;
  }

  /** settledAt resolves (with its seq) when entry `e`'s newest write is durable, or rejects when it failed. */
  settledAt(e: number): Promise<WriteResult> {
    const s = this.settledPs[e]!;
    return typeof s === 'number' ? this.tickets(s) : s;
  }

  /** get returns the newest pending value of `key` (null = a pending delete or an expired put), or undefined when none is pending. */
  get(store: number, key: Uint8Array): Uint8Array | null | undefined {
    const e = this.find(store, key);
    if (e < 0) return undefined;
    const value = this.values[e] ?? null;
    const expiresAtMs = this.expiries[e]!;
    return expiresAtMs === 0 ? value : liveValue(value, expiresAtMs, Date.now());
  }

  /** settledOf returns a promise of the newest pending write on `key` settling, or undefined when none is pending. */
  settledOf(store: number, key: Uint8Array): Promise<WriteResult> | undefined {
    const e = this.find(store, key);
    return e < 0 ? undefined : this.settledAt(e);
  }

  /** lookup probes the index for (store, key) with hash `h`; -1 when absent. */
  private lookup(store: number, key: Uint8Array, h: number): number {
    const index = this.index;
    const mask = this.mask;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const slot = index[i]!;
      if (slot === 0) return -1;
      const e = slot - 1;
      if (this.hashes[e] === h && this.stores[e] === store && this.keyIs(e, key)) return e;
    }
  }

  /** keyIs reports whether entry `e`'s key is `key`. */
  private keyIs(e: number, key: Uint8Array): boolean {
    const n = key.length;
    if (this.keyLens[e] !== n) return false;
    const kb = this.keys[e]!;
    for (let i = 0; i < n; i++) if (kb[i] !== key[i]) return false;
    return true;
  }

  /** place puts entry `e` (hash `h`) at the first empty slot of its probe run. */
  private place(e: number, h: number): void {
    const index = this.index;
    const mask = this.mask;
    let i = h & mask;
    while (index[i] !== 0) i = (i + 1) & mask;
    index[i] = e + 1;
  }

  /**
   * unplace removes entry `e` from the index and shifts back the entries of the probe run after it
   * that may move (those whose home slot is not cyclically within (hole, their slot]).
   */
  private unplace(e: number): void {
    const index = this.index;
    const mask = this.mask;
    let hole = this.hashes[e]! & mask;
    while (index[hole] !== e + 1) hole = (hole + 1) & mask;
    for (let j = (hole + 1) & mask; index[j] !== 0; j = (j + 1) & mask) {
      const home = this.hashes[index[j]! - 1]! & mask;
      const stays = hole <= j ? hole < home && home <= j : hole < home || home <= j;
      if (stays) continue;
      index[hole] = index[j]!;
      hole = j;
    }
    index[hole] = 0;
  }

  /** growEntries makes the entry arrays hold `n` entries (entry numbers stay). */
  private growEntries(n: number): void {
    this.stores = grown(this.stores, new Int32Array(n));
    this.hashes = grown(this.hashes, new Uint32Array(n));
    this.inFlight = grown(this.inFlight, new Int32Array(n));
    this.expiries = grown(this.expiries, new Float64Array(n));
    this.keyLens = grown(this.keyLens, new Int32Array(n));
  }

  /** growIndex doubles the index and places every live entry again. */
  private growIndex(): void {
    const old = this.index;
    this.index = new Int32Array(old.length * 2);
    this.mask = this.index.length - 1;
    for (const slot of old) if (slot !== 0) this.place(slot - 1, this.hashes[slot - 1]!);
  }
}

/** refusedWith is a rejected promise of a write's outcome, its rejection handled by whoever asks. */
function refusedWith(err: Error): Promise<WriteResult> {
  const p = Promise.reject(err);
  p.catch(() => undefined);
  return p;
}

function noTickets(ticket: number): Promise<WriteResult> {
  throw new Error(`write ticket ${ticket} noted without a tickets function`);
}

/** indexSizeFor is the smallest power of two that holds `n` entries at most half full. */
function indexSizeFor(n: number): number {
  let size = 4;
  while (size < n * 2) size *= 2;
  return size;
}

/**
 * liveValue is a pending write's value (null = a delete) with expiry `expiresAtMs` (epoch ms; 0 =
 * none) as a read at `nowMs` sees it: null once its TTL has run out.
 */
export function liveValue(value: Uint8Array | null, expiresAtMs: number, nowMs: number): Uint8Array | null {
  return value !== null && expiresAtMs > 0 && expiresAtMs <= nowMs ? null : value;
}
