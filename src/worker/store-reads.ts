/**
 * StoreReads: the point reads of an op batch (OP_GET, OP_GET_EXPIRY) on a worker's stores.
 *
 * A read is answered in the batch it arrives in, from the store, with the value and the seq of the
 * key's last write (its version, docs/api.md "Versions"). A read of a key with a write in flight
 * (pending-writes.ts) waits until that write has settled: a reader never sees a value that a
 * failed fsync could still take back. A leader whose read finds a key expired that the reaper does
 * not know of hands it to the reaper (expiry-records.ts), so the expiry gets logged.
 *
 * A read with a read concern `w` > 0 (docs/api.md, "Write concern and what reads see") is served
 * only by a leader store (else SWITCHING_LEADER, as a write) and answered only once `w` replicas
 * hold everything the store held when it was read (store-writes.ts, `afterReplicas`): what it
 * shows, a value or an absence, outlives any failover to one of them. Else REPLICATION_TIMEOUT.
 *
 * Owned by one shard worker thread; keys and values of the request batch are views, copied before
 * anything waits.
 */
import type { Store, WriteResult } from '../storage/store.js';
import { ST_MISSING, ST_VALUE } from './op-format.js';
import { liveValue } from './pending-writes.js';
import type { ReplyBatch } from './reply-batch.js';
import type { StoreWrites } from './store-writes.js';
import type { WorkerStores } from './worker-stores.js';

/** ReadConcern is a read's `w` (0: answered at once) and how long it waits for it. */
interface ReadConcern {
  w: number;
  timeoutMs: number;
}

const NO_CONCERN: ReadConcern = { w: 0, timeoutMs: 0 };

/** StoreReads answers the point reads of one worker's stores. */
export class StoreReads {
  private readonly stores: WorkerStores;
  private readonly writes: StoreWrites;
  private readonly replies: ReplyBatch;

  constructor(stores: WorkerStores, writes: StoreWrites, replies: ReplyBatch) {
    this.stores = stores;
    this.writes = writes;
    this.replies = replies;
  }

  /**
   * get answers OP_GET: from the store, or, when a write on the key is in flight, once that write
   * has settled (`whenDurable`); with `w` > 0, once `w` replicas hold what it saw (or after `timeoutMs`).
   */
  get(id: number, index: number, store: Store, key: Uint8Array, w = 0, timeoutMs = 0): void {
    const concern = w === 0 ? NO_CONCERN : { w, timeoutMs };
    if (w > 0) this.writes.checkWritable(index);
    const pending = this.writes.pending;
    const e = pending.find(index, key);
    if (e < 0) this.read(id, index, store, key, concern);
    else {
      const v = pending.valueAt(e);
      const value = v === null ? null : Buffer.from(v);
      this.whenDurable(
        id,
        index,
        store,
        Buffer.from(key),
        { value, expiresAtMs: pending.expiresAt(e) },
        pending.settledAt(e),
        concern,
      );
    }
  }

  /**
   * expiry answers OP_GET_EXPIRY from the store, or, when a write on the key is in flight, once it
   * has settled, with the expiry of the newest write when the read was issued (as `get` answers its
   * value): a write issued after the read, made durable by the same group commit, is not seen.
   */
  expiry(id: number, index: number, key: Buffer): void {
    const pending = this.writes.pending;
    const e = pending.find(index, key);
    if (e >= 0) {
      const seen = {
        value: pending.valueAt(e) === null ? null : Buffer.alloc(0),
        expiresAtMs: pending.expiresAt(e),
      };
      pending.settledAt(e).then(
        ({ seq }) => {
          if (liveValue(seen.value, seen.expiresAtMs, Date.now()) === null)
            this.replies.add(id, ST_MISSING, 0, undefined);
          else this.replies.add(id, ST_VALUE, seq, expiryBytes(seen.expiresAtMs));
          this.replies.flushSoon();
        },
        () => {
          this.expiry(id, index, key);
          this.replies.flushSoon();
        },
      );
      return;
    }
    try {
      const v = this.stores.at(index).read(key);
      if (v === undefined) this.replies.add(id, ST_MISSING, 0, undefined);
      else this.replies.add(id, ST_VALUE, v.seq, expiryBytes(v.expiresAtMs));
    } catch (err) {
      this.replies.error(id, err);
    }
  }

  /** read answers a read from the store with the value and its version; a leader that finds the key expired has the reaper log it. */
  private read(id: number, index: number, store: Store, key: Uint8Array, concern: ReadConcern): void {
    const v = store.read(key);
    if (concern.w > 0) {
      // `v.value` is a view the store's next read may invalidate: copied to wait for the acks.
      this.answerOnceReplicated(
        id,
        index,
        v === undefined ? undefined : Buffer.from(v.value),
        v?.seq ?? 0,
        concern,
      );
      if (v !== undefined) return;
    } else if (v !== undefined) {
      this.replies.add(id, ST_VALUE, v.seq, v.value);
      return;
    } else this.replies.add(id, ST_MISSING, 0, undefined);
    if (this.stores.hosted.get(index)?.spec.role !== 'leader') return;
    // An expiry the reaper does not know of (written before a restart or a promotion).
    const raw = store.read(key, 0);
    if (raw !== undefined && raw.expiresAtMs > 0)
      this.writes.remember({
        store: index,
        key: Buffer.from(key),
        seq: raw.seq,
        expiresAtMs: raw.expiresAtMs,
      });
  }

  /**
   * whenDurable answers a read of a key with a write in flight once that write has settled: a
   * reader never sees a value that a failed fsync could still take back. Once durable, it answers
   * `value`, the newest write when the read was issued (null = a delete): the store may by then hold
   * writes issued after the read, made visible by the same group commit; or nothing if its TTL has
   * run out by the time it is answered. If the write failed, it answers from the store. `key` and
   * `newest` are copies (the request batch is reused).
   */
  private whenDurable(
    id: number,
    index: number,
    store: Store,
    key: Uint8Array,
    newest: { value: Uint8Array | null; expiresAtMs: number },
    settled: Promise<WriteResult>,
    concern: ReadConcern,
  ): void {
    const answer = (read: () => { value: Uint8Array | null | undefined; seq: number }): void => {
      try {
        const r = read();
        if (concern.w === 0) this.replies.value(id, r.value, r.seq);
        else this.answerOnceReplicated(id, index, r.value, r.seq, concern);
      } catch (err) {
        this.replies.error(id, err);
      }
      this.replies.flushSoon();
    };
    settled.then(
      ({ seq }) => {
        answer(() => ({ value: liveValue(newest.value, newest.expiresAtMs, Date.now()), seq }));
      },
      () => {
        answer(() => {
          const v = store.read(key);
          // A copy when it waits for acks: `v.value` is a view of the store's.
          const value = v === undefined || concern.w === 0 ? v?.value : Buffer.from(v.value);
          return { value, seq: v?.seq ?? 0 };
        });
      },
    );
  }

  /**
   * answerOnceReplicated answers a read with read concern `concern` that saw `value` (a copy;
   * null or undefined: missing) at `seq` once enough replicas hold all the store had.
   */
  private answerOnceReplicated(
    id: number,
    index: number,
    value: Uint8Array | null | undefined,
    seq: number,
    concern: ReadConcern,
  ): void {
    this.writes.afterReplicas(id, index, seq, concern.w, concern.timeoutMs, () => {
      this.replies.value(id, value, seq);
    });
  }
}

/** expiryBytes is OP_GET_EXPIRY's reply value: expiresAtMs as an f64. */
function expiryBytes(expiresAtMs: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeDoubleLE(expiresAtMs, 0);
  return b;
}
