/**
 * The replication log seam: what replication (and the watch feature) read of a store's log,
 * whatever is behind it (the record-format agreement in docs/commit-log-format.md). Records are in
 * WAL framing (wal-format.ts), in seq order, and checked: every record read has had its checksum
 * verified on its way in (read from disk, or applied from a batch) or was encoded by this process.
 *
 * Implementations: StoreLog (store-log.ts, a store's part of its worker's commit log) and
 * MemoryLog (memory-log.ts, the in-memory twin for tests).
 */
import type { TailResult } from './wal-tail.js';

/** LogListener receives each appended durable batch: its records and their seq range. */
export type LogListener = (records: Buffer, first: number, last: number) => void;

/** ReplicationLog is one store's log as replication reads it. */
export interface ReplicationLog {
  /**
   * readLog returns about `maxBytes` of records with seq > `after` and the last one's seq, or 'gone'
   * when `after` is older than what is retained. It ends at the end of a batch (past `maxBytes` if
   * need be): a replica applies each answer at once, and a batch is all-or-nothing on the leader.
   */
  readLog(after: number, maxBytes: number): TailResult;
  /** oldestLogSeq is the seq of the oldest record still readable. */
  oldestLogSeq(): number;
  /** onLog subscribes to every durable batch the store appends. */
  onLog(listener: LogListener): void;
  /** waitForLog resolves when a record with seq > `after` is readable, or after `ms`. */
  waitForLog(after: number, ms: number): Promise<void>;
}
