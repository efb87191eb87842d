/**
 * Replay: what recovery (lsm-recovery.ts, steps 2 to 4) rebuilds of one store from the commit log:
 * its records above its durable seq D, applied in log order into memtables (frozen once over
 * `memtable_bytes`, newest first), the epoch of its newest record, and the records found outside
 * this log (an old `wal/`, another worker's log) to be written into it. Base frames void what was
 * replayed at or above their seq; `restart` replaces everything replayed above D (RecordTaker).
 * Invariant: `last` is the seq of the newest record replayed, or D; records arrive in seq order.
 */
import { Memtable } from './memtable.js';
import { type DecodedRecord, encodeRecord, putValueOf, recordSize } from './wal-format.js';

/** Replay collects one store's records above its durable seq (steps 2 and 3). */
export class Replay {
  active = new Memtable();
  frozen: Memtable[] = [];
  /** last is the seq of the newest record replayed (or D). */
  last: number;
  replayed = 0;
  /** migrated: old-layout records to write into the shared log, in WAL framing. */
  migrated: Buffer[] = [];
  migratedFirst = 0;
  /** epoch is the frame epoch of the store's newest record in the log, at `epochSeq` (undefined: unknown). */
  epoch: number | undefined;
  epochSeq = 0;
  /**
   * hole is the first run of seqs above D that no replayed record holds although a later one is
   * replayed (a store's records are consecutive): its run was lost, or its log was. Cleared with
   * what a base or a restart voids.
   */
  hole: { from: number; to: number } | undefined;
  /** holeEndsIn is the segment holding the record after `hole` (the first record the log has again). */
  holeEndsIn: string | undefined;
  private readonly memtableBytes: number;
  readonly durableSeq: number;

  constructor(durableSeq: number, memtableBytes: number) {
    this.durableSeq = durableSeq;
    this.last = durableSeq;
    this.memtableBytes = memtableBytes;
  }

  apply(r: DecodedRecord, segment?: string): void {
    if (r.seq >= this.epochSeq) [this.epoch, this.epochSeq] = [r.epoch, r.seq];
    if (r.seq <= this.durableSeq) return;
    if (r.seq > this.last + 1 && this.hole === undefined) {
      this.hole = { from: this.last + 1, to: r.seq - 1 };
      this.holeEndsIn = segment;
    }
    this.active.apply(r.key, r.seq, putValueOf(r), r.expiresAtMs);
    this.last = r.seq;
    this.replayed++;
    if (this.active.bytes >= this.memtableBytes) {
      this.frozen.unshift(this.active);
      this.active = new Memtable();
    }
  }

  /** migrate replays a record found outside this log and keeps it to be written into it. */
  migrate(r: DecodedRecord): void {
    if (r.seq <= this.last) return;
    if (this.migrated.length === 0) this.migratedFirst = r.seq;
    const b = Buffer.allocUnsafe(recordSize(r.key.length, r.value.length, r.type));
    encodeRecord(b, 0, r.type, r.seq, r.key, r.value, r.expiresAtMs);
    this.migrated.push(b);
    this.apply(r);
  }

  /** restart forgets what was replayed above the durable seq (RecordTaker.restart). */
  restart(newest: { seq: number; epoch: number } | undefined): void {
    this.active = new Memtable();
    this.frozen = [];
    this.last = this.durableSeq;
    this.replayed = 0;
    this.migrated = [];
    this.migratedFirst = 0;
    this.hole = undefined;
    this.holeEndsIn = undefined;
    [this.epoch, this.epochSeq] = newest === undefined ? [undefined, 0] : [newest.epoch, newest.seq];
  }

  /**
   * base: the store's log starts again at `nextSeq`; what was replayed at or above it is void. A
   * memtable cannot drop some of its records, so everything replayed goes: right because a base
   * voiding replayed records says at most durable seq + 1 (a store rebuilt from a snapshot starts
   * at 1, then after its snapshot's seq, which its LMDB holds); other bases follow the newest record.
   */
  base(nextSeq: number): void {
    // Only a base that continues right after the newest record keeps that record's epoch.
    if (nextSeq !== this.epochSeq + 1) this.epoch = undefined;
    if (this.last < nextSeq || this.replayed === 0) return;
    this.active = new Memtable();
    this.frozen = [];
    this.last = this.durableSeq;
    this.replayed = 0;
    this.hole = undefined;
    this.holeEndsIn = undefined;
  }
}
