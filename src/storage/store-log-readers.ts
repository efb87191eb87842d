/**
 * LogReaders: one store's log (store-log.ts) as its readers see it, replicas pulling and watchers
 * (the ReplicationLog seam, replication-log.ts). Recent batches are answered from memory
 * (wal-tail.ts, over copies of the store's own parts: store-log-kept.ts), older ones out of the
 * worker's shared segments (commit-log-cursor.ts). Each part the log hands over once written is
 * kept here, told to the listeners and wakes the long polls waiting for a record after their
 * position. Nothing here is read before its part is written: a reader never sees a record its
 * store has not applied. Used only on the store's worker thread.
 */
import type { CommitLog } from './commit-log.js';
import { StoreCursor } from './commit-log-cursor.js';
import type { LogListener } from './replication-log.js';
import { SeqWaiters } from './seq-waiters.js';
import { KeptRecords } from './store-log-kept.js';
import { type TailResult, WalTail } from './wal-tail.js';

/** LogReaders holds what one store's log keeps for its readers (see above). */
export class LogReaders {
  private readonly commit: CommitLog;
  private readonly id: number;
  private readonly tail: WalTail;
  /** kept holds the tail's copies of this store's written parts (store-log-kept.ts), not the batches. */
  private readonly kept: KeptRecords;
  private readonly cursor: StoreCursor;
  private readonly listeners: LogListener[] = [];
  /** logWaits wait for a record after their position to be written (waitForLog). */
  private readonly logWaits = new SeqWaiters();

  /** `id` is the store's in `commit`; `ringBytes` is how much of its recent log is kept in memory. */
  constructor(commit: CommitLog, id: number, ringBytes: number) {
    this.commit = commit;
    this.id = id;
    this.tail = new WalTail(ringBytes);
    this.kept = new KeptRecords(ringBytes);
    this.cursor = new StoreCursor(commit.vfs, id);
  }

  /** memoryBytes is what the recent log holds in memory. */
  get memoryBytes(): number {
    return this.tail.memoryBytes;
  }

  /** written takes the store's part `records`, seqs `first`..`last`, once it is written and applied. */
  written(records: Buffer, first: number, last: number): void {
    // The tail keeps a copy of this store's records, not the batch (store-log-kept.ts).
    this.kept.keep(records);
    this.tail.written(records, first, last, this.kept.holder, this.kept.at);
    for (const l of this.listeners) l(records, first, last);
    this.logWaits.reach(last);
  }

  /** readLog is ReplicationLog.readLog over a log written through `writtenThrough`. */
  readLog(after: number, writtenThrough: number, maxBytes: number): TailResult {
    return this.tail.readAfter(after, writtenThrough, maxBytes, (a, m) =>
      this.cursor.readAfter(this.commit.segments(), a, m),
    );
  }

  /** oldestLogSeq is ReplicationLog.oldestLogSeq over a log written through `writtenThrough`. */
  oldestLogSeq(writtenThrough: number): number {
    for (const s of this.commit.segments()) {
      const r = s.stores.get(this.id);
      if (r !== undefined) return r.first;
    }
    return writtenThrough + 1;
  }

  onLog(listener: LogListener): void {
    this.listeners.push(listener);
  }

  /** waitForRecord resolves once the record at `seq` is written, or after `ms`. */
  waitForRecord(seq: number, ms: number): Promise<void> {
    return this.logWaits.wait(seq, ms);
  }

  /** releaseAll ends every wait at once: the log gives nothing more (its store is isolated). */
  releaseAll(): void {
    this.logWaits.releaseAll();
  }
}
