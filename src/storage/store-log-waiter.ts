/**
 * Waiter: one append to a store's log (store-log.ts) waiting for the commit log batch that writes
 * it. The store's log keeps its waiters in seq order, hands them to the batch that takes their
 * records, and resolves them (after applying a store write to the memtable) once that batch is
 * written, or rejects them when it fails.
 */
import type { WriteResult, WriteSink } from './store.js';

/**
 * Waiter is one append waiting for its batch: a store write (`key` set, applied on the way; its
 * key and value are the caller's, valid until it is answered), records appended whole, or a
 * mirrored part (`apply` set: applied on the way, nobody waits for it). It is answered once
 * (`done` or `fail`; a second answer is ignored): through its promise's `resolve`/`reject`, or,
 * for a write issued with a sink (StoreLog.appendTo), through `sink` with its `token`.
 */
export class Waiter {
  /** seq is the last seq the waiter covers (what it resolves with). */
  readonly seq: number;
  readonly key: Uint8Array | undefined;
  readonly value: Uint8Array | null;
  readonly expiresAtMs: number;
  /** first and apply: a mirrored part's first seq and where it goes once written. */
  first = 0;
  apply: ((records: Buffer, first: number, last: number) => void) | undefined = undefined;
  resolve: (r: WriteResult) => void = ignore;
  reject: (err: Error) => void = ignore;
  /** sink and token: whom `done`/`fail` tell instead of resolve/reject (StoreLog.appendTo). */
  sink: WriteSink | undefined = undefined;
  token = 0;
  private answered = false;

  constructor(seq: number, key: Uint8Array | undefined, value: Uint8Array | null, expiresAtMs: number) {
    this.seq = seq;
    this.key = key;
    this.value = value;
    this.expiresAtMs = expiresAtMs;
  }

  /** done answers the waiter: its records are written (durable per the mode) through `seq`. */
  done(): void {
    if (this.answered) return;
    this.answered = true;
    const sink = this.sink;
    if (sink === undefined) this.resolve({ seq: this.seq });
    else
      try {
        sink.written(this.token, this.seq);
      } catch (err) {
        rethrowLater(err);
      }
  }

  /** fail answers the waiter with `err`: its records were not written, or not handed over. */
  fail(err: Error): void {
    if (this.answered) return;
    this.answered = true;
    const sink = this.sink;
    if (sink === undefined) this.reject(err);
    else
      try {
        sink.refused(this.token, err);
      } catch (sinkErr) {
        rethrowLater(sinkErr);
      }
  }
}

/**
 * rethrowLater throws `err` out of a microtask: a sink that throws is a bug of its owner, which
 * must surface as an uncaught error (as it did from a promise's reaction), not be taken for a
 * failure of the commit log's hand-over, which would isolate the store.
 */
function rethrowLater(err: unknown): void {
  queueMicrotask(() => {
    throw err;
  });
}

const ignore = (): void => undefined;

/**
 * mirroredWaiter is the waiter of a mirrored part, seqs `first`..`last` (StoreLog.mirrorTo): `apply`
 * gets it once written. Nobody awaits a mirrored part: a failed batch ends the mirror through the
 * leader's log.
 */
export function mirroredWaiter(
  first: number,
  last: number,
  apply: (records: Buffer, first: number, last: number) => void,
): Waiter {
  const w = new Waiter(last, undefined, null, 0);
  w.first = first;
  w.apply = apply;
  return w;
}
