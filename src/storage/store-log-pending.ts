/**
 * PendingParts: what a store's log (store-log.ts) has appended since the worker's commit log last
 * took its part (`LogMember.take`, commit-log-member.ts), with the waiters of those appends
 * (store-log-waiter.ts). Records of the current epoch are encoded into one buffer, reused from batch
 * to batch; when the epoch changes while records are pending, they are sealed as a part of their own
 * (copied out of the buffer) and keep the epoch they were appended in, so a batch writes one frame
 * per epoch. Used only on the store's worker thread.
 */
import type { Pending } from './commit-log-member.js';
import type { Waiter } from './store-log-waiter.js';
import { encodeRecord, type RecordType, recordSize } from './wal-format.js';

/** TakenPart is a part handed to the commit log, its waiters, and whether more (of a later epoch) is left. */
export interface TakenPart {
  part: Pending;
  waiters: Waiter[];
  more: boolean;
}

/** PendingParts are a store's appended records not yet taken by the commit log, and their waiters. */
export class PendingParts {
  /** appendEpoch is the epoch the next appended record is written in. */
  private appendEpoch = 0;
  /**
   * sealed are parts appended in an earlier epoch and not yet taken (the epoch changed while they
   * were pending), oldest first, each with its waiters: they keep the epoch they were appended in.
   */
  private sealed: { part: Pending; waiters: Waiter[] }[] = [];
  private buf: Buffer = Buffer.allocUnsafe(16 * 1024);
  private len = 0;
  private first = 0;
  private waiters: Waiter[] = [];

  /** epoch is the epoch the next appended record is written in. */
  get epoch(): number {
    return this.appendEpoch;
  }

  /** setEpoch makes `epoch` the next append's; records pending in the old one (through seq `last`) are sealed first. */
  setEpoch(epoch: number, last: number): void {
    if (epoch === this.appendEpoch) return;
    if (this.len > 0) {
      // Appended in the old epoch: a part of its own, copied out of the buffer new appends reuse.
      this.sealed.push({
        part: {
          records: Buffer.from(this.buf.subarray(0, this.len)),
          first: this.first,
          last,
          epoch: this.appendEpoch,
        },
        waiters: this.waiters,
      });
      this.len = 0;
      this.waiters = [];
    }
    this.appendEpoch = epoch;
  }

  /** empty says nothing is pending, in any epoch. */
  get empty(): boolean {
    return this.len === 0 && this.sealed.length === 0;
  }

  /** bufferBytes is the size of the buffer records are encoded into before the commit log takes them. */
  get bufferBytes(): number {
    return this.buf.length;
  }

  /** encode appends one record with seq `seq` (value null: a delete or expire). */
  encode(
    type: RecordType,
    seq: number,
    key: Uint8Array,
    value: Uint8Array | null,
    expiresAtMs: number,
  ): void {
    const valueLen = value === null ? 0 : value.length;
    this.reserve(recordSize(key.length, valueLen, type));
    if (this.len === 0) this.first = seq;
    this.len += encodeRecord(this.buf, this.len, type, seq, key, value ?? undefined, expiresAtMs);
  }

  /** copy appends records already in WAL framing, the first of them with seq `first`. */
  copy(records: Buffer, first: number): void {
    this.reserve(records.length);
    if (this.len === 0) this.first = first;
    records.copy(this.buf, this.len);
    this.len += records.length;
  }

  /** wait adds the waiter of the records appended last. */
  wait(w: Waiter): void {
    this.waiters.push(w);
  }

  /**
   * take hands over the oldest pending part (a sealed one first; `last` is the newest pending seq)
   * with its waiters, or undefined when nothing is pending. A part of the current epoch is a view
   * of the buffer: the commit log copies it into its batch before the next append can reuse it.
   */
  take(last: number): TakenPart | undefined {
    const sealed = this.sealed.shift();
    if (sealed !== undefined)
      return { part: sealed.part, waiters: sealed.waiters, more: this.sealed.length > 0 || this.len > 0 };
    if (this.len === 0) return undefined;
    const part = {
      records: this.buf.subarray(0, this.len),
      first: this.first,
      last,
      epoch: this.appendEpoch,
    };
    this.len = 0;
    const waiters = this.waiters;
    this.waiters = [];
    return { part, waiters, more: false };
  }

  /** drop forgets everything pending (it is never written) and returns its waiters, oldest first. */
  drop(): Waiter[] {
    const dropped = [...this.sealed.flatMap((x) => x.waiters), ...this.waiters];
    this.sealed = [];
    this.waiters = [];
    this.len = 0;
    return dropped;
  }

  private reserve(size: number): void {
    if (this.len + size <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + size));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
}
