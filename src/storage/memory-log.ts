/**
 * MemoryLog: the in-memory twin of a store's log (replication-log.ts), for tests of replication
 * and watchers without files: `append` takes records (WAL framing, wal-format.ts) with the next
 * seqs, keeps the newest `retainRecords` of them and, as the commit log keeps segments for
 * replicas, older ones at or above the retention hook's seq; it answers reads as StoreLog does.
 */
import { DistkvError } from '../errors.js';
import type { LogListener, ReplicationLog } from './replication-log.js';
import { decodeRecord } from './wal-format.js';
import type { TailResult } from './wal-tail.js';

/** MemoryLog keeps a store's records in memory. */
export class MemoryLog implements ReplicationLog {
  /** records: each record appended, and whether it is the last of its batch (`end`). */
  private records: { seq: number; bytes: Buffer; end: boolean }[] = [];
  private last = 0;
  private readonly retain: number;
  private readonly listeners: LogListener[] = [];
  private retention: (() => number | undefined) | undefined;
  private waiters: { after: number; resolve: () => void; timer?: NodeJS.Timeout }[] = [];

  /** `retainRecords` bounds how many records stay readable (older ones are gone). */
  constructor(retainRecords = Number.POSITIVE_INFINITY) {
    this.retain = retainRecords;
  }

  /** lastSeq is the seq of the newest record appended. */
  get lastSeq(): number {
    return this.last;
  }

  /** append adds a batch of records (WAL framing) that must carry the next seqs; returns the last seq. */
  append(batch: Buffer): number {
    const first = this.last + 1;
    for (let o = 0; o < batch.length;) {
      const r = decodeRecord(batch, o);
      if (typeof r === 'string') throw new DistkvError('CORRUPTION', `memory log batch at offset ${o}: ${r}`);
      if (r.seq !== this.last + 1)
        throw new DistkvError(
          'INTERNAL',
          `log append out of order: got seq ${r.seq}, next is ${this.last + 1}`,
        );
      o += r.size;
      this.records.push({ seq: r.seq, bytes: batch.subarray(o - r.size, o), end: o >= batch.length });
      this.last = r.seq;
    }
    if (this.records.length > this.retain) {
      const keepFrom = this.retention?.();
      let drop = this.records.length - this.retain;
      if (keepFrom !== undefined) drop = Math.min(drop, Math.max(0, keepFrom - this.records[0]!.seq));
      if (drop > 0) this.records = this.records.slice(drop);
    }
    if (this.last >= first) {
      for (const l of this.listeners) l(batch, first, this.last);
      const ready = this.waiters.filter((w) => w.after < this.last);
      this.waiters = this.waiters.filter((w) => w.after >= this.last);
      for (const w of ready) {
        clearTimeout(w.timer);
        w.resolve();
      }
    }
    return this.last;
  }

  /** setRetention installs the hook giving the lowest seq a replica still needs (undefined = none). */
  setRetention(hook: () => number | undefined): void {
    this.retention = hook;
  }

  /** startAfter makes an empty log continue after `seq` (a store loaded from a snapshot at `seq`). */
  startAfter(seq: number): void {
    if (this.records.length > 0)
      throw new DistkvError('INTERNAL', `a log holding records cannot restart after seq ${seq}`);
    this.last = seq;
  }

  readLog(after: number, maxBytes: number): TailResult {
    if (after >= this.last) return { records: Buffer.alloc(0), lastSeq: after };
    const oldest = this.oldestLogSeq();
    if (after + 1 < oldest) return 'gone';
    const parts: Buffer[] = [];
    let size = 0;
    let last = after;
    // Up to a batch's end, past maxBytes if need be: a pull never ends inside a batch (wal-tail.ts).
    for (let i = after + 1 - oldest; i < this.records.length; i++) {
      const r = this.records[i]!;
      parts.push(r.bytes);
      size += r.bytes.length;
      last = r.seq;
      if (r.end && size >= maxBytes) break;
    }
    return { records: Buffer.concat(parts, size), lastSeq: last };
  }

  oldestLogSeq(): number {
    return this.records[0]?.seq ?? this.last + 1;
  }

  onLog(listener: LogListener): void {
    this.listeners.push(listener);
  }

  waitForLog(after: number, ms: number): Promise<void> {
    if (this.last > after || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter: { after: number; resolve: () => void; timer?: NodeJS.Timeout } = { after, resolve };
      this.waiters.push(waiter);
      waiter.timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve();
      }, ms);
    });
  }
}
