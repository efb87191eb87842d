/**
 * LsmReplication: an LSM store's side of replication (store-replication.ts). Its log is the store's
 * part of the worker's commit log (StoreLog, store-log.ts); replicated records are logged as they
 * came (same bytes, the leader's seqs) and then applied to the store's memtable, exactly as the
 * store's own writes are; a snapshot is written straight into the store's LMDB level. A replica
 * of the same commit log can instead be fed in the leader's own batches (`feed`, StoreLog.mirrorTo).
 * Its history id is the store directory's `history.json` (history-format.ts), read at open.
 *
 * Lives and dies with its LsmStore (lsm-store.ts), on the store's worker thread.
 */
import { DistkvError } from '../errors.js';
import { hashBytes } from './key-hash.js';
import { type KeyOrigin, originHash } from './key-origin.js';
import { readHistoryFile, writeHistoryFile } from './history-format.js';
import type { LmdbLevel } from './lmdb-level.js';
import type { LogListener } from './replication-log.js';
import type { StoreEntry } from './store.js';
import { entrySeq, type Feed, type SnapshotEntry, type StoreReplication } from './store-replication.js';
import type { StoreLog } from './store-log.js';
import type { LogMirror } from './store-log-mirror.js';
import { newRecordView, type RecordView, viewRecord } from './wal-format.js';
import type { TailResult } from './wal-tail.js';

/** LsmWrites are the parts of its LsmStore the adapter writes through. */
export interface LsmWrites {
  lastSeq(): number;
  scan(prefix: Uint8Array, after: Uint8Array | undefined, limit: number, maxBytes?: number): StoreEntry[];
  /** isClosed says close() has begun. */
  isClosed(): boolean;
  /** beforeWrite waits out a write stall (and throws once the store is closed or its flushes fail). */
  beforeWrite(): Promise<void>;
  /** applyRecord puts a logged record (at `v` in `records`, its key's hashBytes `keyHash`: key-hash.ts) into the active memtable. */
  applyRecord(records: Buffer, v: RecordView, keyHash: number): void;
  /** admit says a write may go ahead now (open, no write stall) and counts it as a write; false: it would wait. */
  admit(): boolean;
}

/** LsmReplication is the StoreReplication of one LsmStore. */
export class LsmReplication implements StoreReplication {
  readonly epochRecovered: boolean;
  private readonly store: LsmWrites;
  private readonly wal: StoreLog;
  private readonly level: LmdbLevel;
  /** dir is the store directory, which keeps the history id. */
  private readonly dir: string;
  /** historyId is the store's history id (history-format.ts), as its file holds it. */
  private historyId: string | undefined;
  /** view is reused by applyMirrored. */
  private readonly view = newRecordView();
  /**
   * unapplied is why the log holds records the memtable lacks (an apply threw after the log took
   * them, pulled or fed), once that happened: the store then takes no more batches (mustRebuild).
   */
  private unapplied: Error | undefined;

  /**
   * `epoch` is the frame epoch of the store's newest record when recovery read it back; `dir` is
   * the store directory (its history id is read from there: CORRUPTION when its file is not one,
   * or names another shard: history-format.ts).
   */
  constructor(store: LsmWrites, wal: StoreLog, level: LmdbLevel, epoch: number | undefined, dir: string) {
    this.store = store;
    this.wal = wal;
    this.level = level;
    this.dir = dir;
    this.historyId = readHistoryFile(dir);
    this.epochRecovered = epoch !== undefined;
    if (epoch !== undefined) wal.epoch = epoch;
  }

  lastSeq(): number {
    return this.store.lastSeq();
  }

  scan(prefix: Uint8Array, after: Uint8Array | undefined, limit: number, maxBytes?: number): StoreEntry[] {
    return this.store.scan(prefix, after, limit, maxBytes);
  }

  get epoch(): number {
    return this.wal.epoch;
  }

  set epoch(epoch: number) {
    this.wal.epoch = epoch;
  }

  get history(): string | undefined {
    return this.historyId;
  }

  setHistory(id: string): void {
    if (id === this.historyId) return;
    writeHistoryFile(this.dir, id);
    this.historyId = id;
  }

  readLog(after: number, maxBytes: number): TailResult {
    return this.wal.readLog(after, maxBytes);
  }

  oldestLogSeq(): number {
    return this.wal.oldestLogSeq();
  }

  onLog(listener: LogListener): void {
    this.wal.onLog(listener);
  }

  isClosed(): boolean {
    return this.store.isClosed();
  }

  waitForLog(after: number, ms: number): Promise<void> {
    if (this.store.isClosed()) return Promise.resolve();
    return this.wal.waitForLog(after, ms);
  }

  setRetention(hook: () => number | undefined): void {
    this.wal.setRetention(hook);
  }

  mustRebuild(): boolean {
    return this.unapplied !== undefined;
  }

  /**
   * applyReplicated logs the batch as is, then applies it; batches are applied one after the
   * other, so a log frame never mixes two epochs.
   */
  async applyReplicated(records: Buffer, epoch?: number, checked = false): Promise<number> {
    if (this.store.isClosed()) throw new DistkvError('UNAVAILABLE', 'store is closed');
    this.checkWhole();
    // Check every record first (nothing is logged from a damaged batch), without a view per record.
    const v = newRecordView();
    let first = 0;
    for (let offset = 0; offset < records.length; offset = v.end) {
      const damage = viewRecord(records, offset, v, !checked);
      if (damage !== undefined)
        throw new DistkvError('CORRUPTION', `replication batch at offset ${offset}: ${damage}`);
      if (offset === 0) first = v.seq;
    }
    if (records.length === 0) return this.store.lastSeq();
    const last = v.seq;
    await this.store.beforeWrite();
    // A batch that does not follow the log (a write of this store's own still in flight) is refused
    // before it can relabel the log's epoch: the next pull then names the epoch the log really has.
    if (first !== this.wal.lastSeq + 1)
      throw new DistkvError(
        'INTERNAL',
        `log append out of order: got seq ${first}, next is ${this.wal.lastSeq + 1}`,
      );
    if (epoch !== undefined) this.wal.epoch = epoch;
    const { seq } = await this.wal.appendRecords(records, first, last);
    this.checkWhole();
    // Checked above, and the batch is not written to: its checksums are not computed again.
    try {
      for (let offset = 0; offset < records.length; offset = v.end) {
        viewRecord(records, offset, v, false);
        this.store.applyRecord(records, v, hashBytes(records, v.keyStart, v.keyEnd));
      }
    } catch (err) {
      throw this.failedApply(err, v.seq, last);
    }
    return seq;
  }

  /**
   * failedApply records that applying seq `at` threw after the log took the batch through `last`
   * (the store's last seq stays at the record before it) and returns the error to report.
   */
  private failedApply(err: unknown, at: number, last: number): Error {
    const cause = (err as Error).message;
    this.unapplied ??= new DistkvError(
      'INTERNAL',
      `replica: applying seq ${at} failed (${cause}) after its log took the batch through seq ${last}; the store must be rebuilt from a leader snapshot`,
      { cause: err },
    );
    return this.unapplied;
  }

  /** checkWhole refuses a batch once the log holds records the memtable lacks (mustRebuild). */
  private checkWhole(): void {
    if (this.unapplied !== undefined) throw this.unapplied;
  }

  /**
   * feed mirrors this store's log into `replica`'s (StoreLog.mirrorTo): both must be LSM stores of
   * the same commit log. A replica that stalls or closes ends the feed; it then pulls. `ended`
   * resolves only once the replica's fed parts still in flight are written (or refused), so the
   * replica's ack is final when it pulls again.
   *
   * An apply that throws (the memtable could not grow) leaves the replica's log holding records its
   * memtable lacks: the parts fed after it are not applied either (no hole behind the ack) and the
   * feed ends with the error, which sends the replica to a resync (follower.ts).
   */
  feed(replica: StoreReplication, applied: (last: number) => void): Feed | undefined {
    if (!(replica instanceof LsmReplication) || replica === this || replica.mustRebuild()) return undefined;
    const wal = this.wal;
    let end!: (err: Error | undefined) => void;
    const ended = new Promise<Error | undefined>((resolve) => {
      end = resolve;
    });
    let failure: Error | undefined;
    const mirror: LogMirror = {
      log: replica.wal,
      accepting: () => replica.store.admit(),
      apply: (records, first, last, origins) => {
        if (failure !== undefined) return;
        try {
          replica.applyMirrored(records, first, last, origins);
          applied(last);
        } catch (err) {
          failure = replica.failedApply(err, replica.lastSeq() + 1, last);
          wal.unmirror(mirror);
        }
      },
      ended: () => {
        void replica.wal.settled().then(() => {
          end(failure);
        });
      },
    };
    if (!wal.mirrorTo(mirror)) return undefined;
    return {
      ended,
      stop: () => {
        wal.unmirror(mirror);
      },
    };
  }

  /**
   * applyMirrored applies the records `first`..`last` of a written batch part (this thread encoded
   * them: no checksum), each with its key's hash from `origins` (key-origin.ts) where they line up.
   */
  private applyMirrored(records: Buffer, first: number, last: number, origins: readonly KeyOrigin[]): void {
    const v = this.view;
    for (let offset = 0; offset < records.length; offset = v.end) {
      const damage = viewRecord(records, offset, v, false);
      if (damage !== undefined)
        throw new DistkvError('CORRUPTION', `mirrored batch at offset ${offset}: ${damage}`);
      if (v.seq < first || v.seq > last) continue;
      const h = originHash(origins, first, last, v.seq) ?? hashBytes(records, v.keyStart, v.keyEnd);
      this.store.applyRecord(records, v, h);
    }
  }

  /** loadSnapshotChunk writes entries straight into LMDB, each with its version and expiry. */
  loadSnapshotChunk(entries: readonly SnapshotEntry[], seq: number): Promise<void> {
    return this.level.apply(
      entries.map((e) => ({
        key: e.key,
        value: e.value,
        seq: entrySeq(e, seq),
        expiresAtMs: e.expiresAtMs ?? 0,
      })),
    );
  }

  finishSnapshot(seq: number): Promise<void> {
    return this.level.apply([], seq);
  }
}
