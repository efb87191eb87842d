/**
 * ConditionalWrites: the writes of an op batch that hold only if the key's version allows
 * (docs/api.md, "Versions" and "TTL"): OP_PUT_EXT / OP_DELETE_EXT, one key with If-Match /
 * If-None-Match / keep-TTL / keep-value flags, and OP_TXN, several such writes that all happen
 * or none does.
 *
 * The conditions are checked here, atomically, against the newest write: a key with a write in
 * flight (pending-writes.ts) waits for it to settle, since its seq is known only then, and is
 * checked again; the check and the issue of the writes (store-writes.ts) then happen in one
 * synchronous step, so nothing can come between them. The predicate itself is conditions.ts.
 *
 * Owned by one shard worker thread; request batch views are copied before anything waits.
 */
import type { Store, StoreValue } from '../storage/store.js';
import { conditionHolds } from './conditions.js';
import {
  decodeExt,
  decodeTxn,
  EXT_BYTES,
  EXT_KEEP_TTL,
  EXT_KEEP_VALUE,
  OP_PUT_EXT,
  ST_CONFLICT,
  ST_DONE,
  ST_MISSING,
  TXN_RESULT_BYTES,
  type WriteExt,
} from './op-format.js';
import type { ReplyBatch } from './reply-batch.js';
import type { StoreWrites } from './store-writes.js';
import type { WorkerStores } from './worker-stores.js';

/** ConditionalWrites runs the conditional writes and transactions of one worker's stores. */
export class ConditionalWrites {
  private readonly stores: WorkerStores;
  private readonly writes: StoreWrites;
  private readonly replies: ReplyBatch;

  constructor(stores: WorkerStores, writes: StoreWrites, replies: ReplyBatch) {
    this.stores = stores;
    this.writes = writes;
    this.replies = replies;
  }

  /**
   * write runs OP_PUT_EXT / OP_DELETE_EXT. With conditions, a key with a write in flight waits
   * for it to settle (its seq is known only then) and is checked again; the check and the issue of
   * the write happen in one synchronous step, so nothing can come between them. A failed condition
   * answers ST_CONFLICT with the key's current version seq. Returns, when it waits, the promise of
   * its having run (the op runner gates the key until then, key-gates.ts).
   */
  write(
    id: number,
    index: number,
    store: Store,
    op: number,
    key: Uint8Array,
    raw: Uint8Array,
    w: number,
    timeoutMs: number,
  ): Promise<void> | undefined {
    this.writes.checkWritable(index);
    const ext = decodeExt(raw);
    let cur: StoreValue | undefined;
    if (ext.flags !== 0) {
      const settled = this.writes.pending.settledOf(index, key);
      if (settled !== undefined) {
        // The request batch is reused: keep copies until the retry.
        const k = Buffer.from(key);
        const v = Buffer.from(raw);
        const retry = (): Promise<void> | undefined => {
          let again: Promise<void> | undefined;
          try {
            again = this.write(id, index, this.stores.at(index), op, k, v, w, timeoutMs);
          } catch (err) {
            this.replies.error(id, err);
          }
          this.replies.flushSoon();
          return again;
        };
        return settled.then(retry, retry);
      }
      cur = store.read(key);
      if (!conditionHolds(ext, cur)) {
        this.replies.add(id, ST_CONFLICT, cur?.seq ?? 0, undefined);
        return undefined;
      }
    }
    if (op === OP_PUT_EXT) {
      const put = putOf(ext, raw, cur);
      // A put whose expiry is past is written as a delete: ST_MISSING tells the front door so (op-format.ts).
      const done = put.value === null ? ST_MISSING : ST_DONE;
      this.writes.write(id, index, store, key, put.value, w, timeoutMs, undefined, done, put.expiresAtMs);
    } else {
      const existed = this.writes.current(index, store, key) != null;
      this.writes.write(id, index, store, key, null, w, timeoutMs, undefined, existed ? ST_DONE : ST_MISSING);
    }
    return undefined;
  }

  /**
   * txn runs OP_TXN: all its conditions are checked against the keys as they are before it
   * (after any write in flight on them has settled), then either every write is issued in this
   * turn, so they share one group commit, or none is and the reply says which conditions failed.
   * Returns, when it waits, the promise of its having run (as `write`).
   */
  txn(
    id: number,
    index: number,
    store: Store,
    raw: Uint8Array,
    w: number,
    timeoutMs: number,
  ): Promise<void> | undefined {
    this.writes.checkWritable(index);
    const subs = decodeTxn(raw);
    const inFlight = subs.flatMap((s) => this.writes.pending.settledOf(index, s.key) ?? []);
    if (inFlight.length > 0) {
      const copy = Buffer.from(raw);
      return Promise.allSettled(inFlight).then(() => {
        let again: Promise<void> | undefined;
        try {
          again = this.txn(id, index, this.stores.at(index), copy, w, timeoutMs);
        } catch (err) {
          this.replies.error(id, err);
        }
        this.replies.flushSoon();
        return again;
      });
    }
    const exts = subs.map((s) => decodeExt(s.value));
    // A value read is a view the next read invalidates: only a keep-value put, which writes it, copies it.
    const current = subs.map((s, i) => {
      const v = store.read(s.key);
      return v !== undefined && exts[i]!.flags & EXT_KEEP_VALUE ? { ...v, value: Buffer.from(v.value) } : v;
    });
    const held = exts.map((ext, i) => conditionHolds(ext, current[i]));
    if (held.includes(false)) {
      const results = Buffer.alloc(subs.length * TXN_RESULT_BYTES);
      held.forEach((ok, i) => {
        results[i * TXN_RESULT_BYTES] = ok ? 1 : 0;
        results.writeDoubleLE(current[i]?.seq ?? 0, i * TXN_RESULT_BYTES + 1);
      });
      this.replies.add(id, ST_CONFLICT, 0, results);
      return undefined;
    }
    // deleted marks the puts written as deletes (an expiry already past): the reply's value (op-format.ts).
    let deleted: Buffer | undefined;
    const issued = subs.map((s, i) => {
      if (s.op !== OP_PUT_EXT) return this.writes.issue(index, store, s.key, null, 0);
      const put = putOf(exts[i]!, s.value, current[i]);
      if (put.value === null) (deleted ??= Buffer.alloc(subs.length))[i] = 1;
      return this.writes.issue(index, store, s.key, put.value, put.expiresAtMs);
    });
    const all = Promise.all(issued).then((rs) => ({ seq: Math.max(0, ...rs.map((r) => r.seq)) }));
    this.writes.track(id, index, all, w, timeoutMs, deleted);
    return undefined;
  }
}

/**
 * putOf is what an OP_PUT_EXT of `ext` (`raw` = the ext and its value) writes over the key's live
 * value `cur`: its own value and expiry, or with EXT_KEEP_VALUE the current value (a copy: a read's
 * bytes are a view) and with EXT_KEEP_TTL the current expiry (none for a missing key). An expiry
 * already past makes it a delete (value null), as OP_SET_IF does for SET ... PXAT in the past and
 * as Redis does, instead of a value stored already expired for the reaper to remove.
 */
function putOf(
  ext: WriteExt,
  raw: Uint8Array,
  cur: StoreValue | undefined,
): { value: Uint8Array | null; expiresAtMs: number } {
  const expiresAtMs = ext.flags & EXT_KEEP_TTL ? (cur?.expiresAtMs ?? 0) : ext.expiresAtMs;
  if (expiresAtMs !== 0 && expiresAtMs <= Date.now()) return { value: null, expiresAtMs: 0 };
  return {
    value: ext.flags & EXT_KEEP_VALUE && cur !== undefined ? Buffer.from(cur.value) : raw.subarray(EXT_BYTES),
    expiresAtMs,
  };
}
