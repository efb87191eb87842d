/**
 * Waiter: one append to a store's log (store-log.ts) waiting for the commit log batch that writes
 * it. The store's log keeps its waiters in seq order, hands them to the batch that takes their
 * records, and resolves them (after applying a store write to the memtable) once that batch is
 * written, or rejects them when it fails.
 */
import type { KeyOrigin } from './key-origin.js';
import type { WriteResult, WriteSink } from './store.js';

/**
 * Waiter is one append waiting for its batch: a store write (`key` set, applied on the way; its
 * key and value are the caller's, valid until it is answered), records appended whole, or a
 * mirrored part (`apply` set: applied on the way, nobody waits for it). It is answered once
 * (`done` or `fail`; a second answer is ignored): through its promise's `resolve`/`reject`, or,
 * for a write issued with a sink (StoreLog.appendTo), through `sink` with its `token`.
 */
export class Waiter implements KeyOrigin {
  /** seq is the last seq the waiter covers (what it resolves with). */
  readonly seq: number;
  readonly key: Uint8Array | undefined;
  readonly value: Uint8Array | null;
  readonly expiresAtMs: number;
  /** keyHash is hashBytes of `key` (key-hash.ts), 0 without a key: the memtables' hash, computed once. */
  readonly keyHash: number;
  /** first and apply: a mirrored part's first seq and where it goes once written, with `origins`. */
  first = 0;
  apply: MirroredApply | undefined = undefined;
  /** origins: a mirrored part's records as its leader appended them (the leader's waiters of the part). */
  origins: readonly KeyOrigin[] = NO_ORIGINS;
  resolve: (r: WriteResult) => void = ignore;
  reject: (err: Error) => void = ignore;
  /** sink and token: whom `done`/`fail` tell instead of resolve/reject (StoreLog.appendTo). */
  sink: WriteSink | undefined = undefined;
  token = 0;
  private answered = false;

  constructor(
    seq: number,
    key: Uint8Array | undefined,
    value: Uint8Array | null,
    expiresAtMs: number,
    keyHash = 0,
  ) {
    this.seq = seq;
    this.key = key;
    this.value = value;
    this.expiresAtMs = expiresAtMs;
    this.keyHash = keyHash;
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

/** MirroredApply puts a written mirrored part, seqs `first`..`last` of `records`, into the replica (LogMirror.apply). */
export type MirroredApply = (
  records: Buffer,
  first: number,
  last: number,
  origins: readonly KeyOrigin[],
) => void;

const NO_ORIGINS: readonly KeyOrigin[] = [];

/**
 * mirroredWaiter is the waiter of a mirrored part, seqs `first`..`last` (StoreLog.mirrorTo): `apply`
 * gets it once written, with `origins`, the leader's waiters of the part. Nobody awaits a mirrored
 * part: a failed batch ends the mirror through the leader's log.
 */
export function mirroredWaiter(
  first: number,
  last: number,
  apply: MirroredApply,
  origins: readonly KeyOrigin[],
): Waiter {
  const w = new Waiter(last, undefined, null, 0);
  w.first = first;
  w.apply = apply;
  w.origins = origins;
  return w;
}
