/**
 * Waiter: one append to a store's log (store-log.ts) waiting for the commit log batch that writes
 * it. The store's log keeps its waiters in seq order, hands them to the batch that takes their
 * records, and resolves them (after applying a store write to the memtable) once that batch is
 * written, or rejects them when it fails.
 */
import type { WriteResult } from './store.js';

/**
 * Waiter is one append waiting for its batch: a store write (`key` set, applied on the way; its
 * key and value are the caller's, valid until it resolves), records appended whole, or a mirrored
 * part (`apply` set: applied on the way, nobody waits for it).
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
  resolve!: (r: WriteResult) => void;
  reject!: (err: Error) => void;

  constructor(seq: number, key: Uint8Array | undefined, value: Uint8Array | null, expiresAtMs: number) {
    this.seq = seq;
    this.key = key;
    this.value = value;
    this.expiresAtMs = expiresAtMs;
  }
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
  w.resolve = ignore;
  w.reject = ignore;
  return w;
}
