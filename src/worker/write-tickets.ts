/**
 * WriteTickets: the plain writes of a shard worker in flight (StoreWrites.write), each a ticket
 * number that its store hears it by (WriteSink, src/storage/store.ts) and answers once: what the
 * reply needs (op id, store, `w`, timeout, reply value and status, the expiry and the key to reap)
 * and the write's handle in pending-writes.ts.
 *
 * It replaces a promise per write, its two reaction closures and their context, and the
 * store's resolve functions (the worker's every PUT; docs/performance.md, "The worker's CPU per
 * PUT"). A promise of a write's outcome is made only when asked for (`settled`): a read or a
 * conditional write behind a write in flight (pending-writes.ts) or a fence (`of`).
 * As pending-writes.ts, a grow-only table (slot-pool.ts): typed arrays where it can, and the
 * references cleared when a ticket is released.
 * Invariant: a ticket is live from `take` until `release`, which its store's answer triggers
 * exactly once; its number then names the next write given it, so nothing may keep it past its
 * release (pending-writes.ts keeps a released newest write's outcome instead: `settleTicket`).
 *
 * Owned by one shard worker thread.
 */
import type { WriteResult } from '../storage/store.js';
import { ST_DONE, ST_MISSING } from './op-format.js';
import { grown, SlotPool } from './slot-pool.js';

/** Settled is the promise of a write's outcome made on demand, with its settling functions. */
interface Settled {
  promise: Promise<WriteResult>;
  resolve: (r: WriteResult) => void;
  reject: (err: Error) => void;
}

/** Ticket is what a released ticket held: what its reply needs. */
export interface Ticket {
  id: number;
  store: number;
  handle: number;
  w: number;
  timeoutMs: number;
  replyValue: Uint8Array | undefined;
  done: typeof ST_DONE | typeof ST_MISSING;
  expiresAtMs: number;
  reapKey: Buffer | undefined;
  settled: Settled | undefined;
}

/** WriteTickets holds the plain writes in flight by ticket number. */
export class WriteTickets {
  private ids: Float64Array;
  private stores: Int32Array;
  private handles: Int32Array;
  private ws: Int32Array;
  private timeouts: Float64Array;
  private dones: Uint8Array;
  private expiries: Float64Array;
  private live: Uint8Array;
  private readonly replyValues: (Uint8Array | undefined)[] = [];
  private readonly reapKeys: (Buffer | undefined)[] = [];
  private readonly settles: (Settled | undefined)[] = [];
  private readonly slots: SlotPool;
  /** out is what `release` returns: reused, valid until the next release. */
  private readonly out: Ticket = {
    id: 0,
    store: 0,
    handle: 0,
    w: 0,
    timeoutMs: 0,
    replyValue: undefined,
    done: ST_DONE,
    expiresAtMs: 0,
    reapKey: undefined,
    settled: undefined,
  };

  /** `capacity` is the number of tickets to start with (it doubles as needed). */
  constructor(capacity = 256) {
    this.slots = new SlotPool(capacity, {
      grow: (n) => {
        this.growColumns(n);
      },
      added: () => {
        this.replyValues.push(undefined);
        this.reapKeys.push(undefined);
        this.settles.push(undefined);
      },
    });
    const n = this.slots.capacity;
    this.ids = new Float64Array(n);
    this.stores = new Int32Array(n);
    this.handles = new Int32Array(n);
    this.ws = new Int32Array(n);
    this.timeouts = new Float64Array(n);
    this.dones = new Uint8Array(n);
    this.expiries = new Float64Array(n);
    this.live = new Uint8Array(n);
  }

  /** take opens a ticket for the write of op `id` to store `store`; `handle` follows with `setHandle`. */
  take(
    id: number,
    store: number,
    w: number,
    timeoutMs: number,
    replyValue: Uint8Array | undefined,
    done: typeof ST_DONE | typeof ST_MISSING,
    expiresAtMs: number,
    reapKey: Buffer | undefined,
  ): number {
    const t = this.slots.take();
    this.ids[t] = id;
    this.stores[t] = store;
    this.ws[t] = w;
    this.timeouts[t] = timeoutMs;
    this.dones[t] = done;
    this.expiries[t] = expiresAtMs;
    this.live[t] = 1;
    this.replyValues[t] = replyValue;
    this.reapKeys[t] = reapKey;
    return t;
  }

  /** setHandle records ticket `t`'s handle in pending-writes.ts. */
  setHandle(t: number, handle: number): void {
    this.handles[t] = handle;
  }

  /** settled returns the promise of live ticket `t`'s outcome (made at the first call). */
  settled(t: number): Promise<WriteResult> {
    let s = this.settles[t];
    if (s === undefined) {
      let resolve!: (r: WriteResult) => void;
      let reject!: (err: Error) => void;
      const promise = new Promise<WriteResult>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      // Whoever asked handles the outcome; a refusal is answered to the client all the same.
      promise.catch(() => undefined);
      this.settles[t] = s = { promise, resolve, reject };
    }
    return s.promise;
  }

  /** of returns the promises of store `store`'s live tickets (a fence waits for them). */
  of(store: number): Promise<WriteResult>[] {
    const out: Promise<WriteResult>[] = [];
    const used = this.slots.used;
    for (let t = 0; t < used; t++)
      if (this.live[t] === 1 && this.stores[t] === store) out.push(this.settled(t));
    return out;
  }

  /** release closes ticket `t` and returns what it held (valid until the next release). */
  release(t: number): Ticket {
    const o = this.out;
    o.id = this.ids[t]!;
    o.store = this.stores[t]!;
    o.handle = this.handles[t]!;
    o.w = this.ws[t]!;
    o.timeoutMs = this.timeouts[t]!;
    o.done = this.dones[t] === ST_MISSING ? ST_MISSING : ST_DONE;
    o.expiresAtMs = this.expiries[t]!;
    o.replyValue = this.replyValues[t];
    o.reapKey = this.reapKeys[t];
    o.settled = this.settles[t];
    this.replyValues[t] = undefined;
    this.reapKeys[t] = undefined;
    this.settles[t] = undefined;
    this.live[t] = 0;
    this.slots.release(t);
    return o;
  }

  private growColumns(n: number): void {
    this.ids = grown(this.ids, new Float64Array(n));
    this.stores = grown(this.stores, new Int32Array(n));
    this.handles = grown(this.handles, new Int32Array(n));
    this.ws = grown(this.ws, new Int32Array(n));
    this.timeouts = grown(this.timeouts, new Float64Array(n));
    this.dones = grown(this.dones, new Uint8Array(n));
    this.expiries = grown(this.expiries, new Float64Array(n));
    this.live = grown(this.live, new Uint8Array(n));
  }
}
