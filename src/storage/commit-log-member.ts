/**
 * A store's side of the worker's commit log (docs/commit-log-format.md, "Writing"): what the
 * commit log (commit-log.ts) asks of each store that writes into it, and what a store hands over
 * for one batch. StoreLog (store-log.ts) implements it.
 *
 * The commit log takes every pending member's part at the end of the turn, writes them as one
 * frame per member in one append (and one fdatasync in fsync mode), then tells each member what
 * became of its part: `written` (then `synced`), `failed` (the batch, and everything queued behind
 * it, is refused: the member rewinds), or `isolate` (its own hand-over threw). Retention asks each
 * member what it still needs (`durableSeq`, `retainFrom`: commit-log-retention.ts).
 */
import type { DistkvError } from '../errors.js';

/**
 * Pending is what a member hands over for one batch: its records in WAL framing, their seqs, and
 * the epoch they were appended in (their frame's; a member's records of one epoch per part).
 */
export interface Pending {
  records: Buffer;
  first: number;
  last: number;
  epoch: number;
}

/** LogMember is a store's side of the commit log (StoreLog implements it). */
export interface LogMember {
  readonly id: number;
  readonly epoch: number;
  /**
   * take hands over (and forgets) what the store appended since the last batch, or undefined; a
   * member with records of two epochs hands over the older part and makes itself pending again
   * (the batch takes it again: one frame per epoch).
   */
  take(): Pending | undefined;
  /**
   * written: the part of a batch taken from this store is written (and synced in fsync mode);
   * `records` is a view of the batch, valid for good, which holds the whole batch's slab while
   * kept (commit-log-batch.ts): a member keeps a copy instead (store-log-kept.ts).
   */
  written(part: Pending): void;
  /**
   * isolate: `written(part)` threw. The store's state may now trail its log: it refuses its
   * writes (those in flight and every new one) with `err` until it is reopened, which replays
   * the log. The other stores of the batch are not affected.
   */
  isolate(part: Pending, err: DistkvError): void;
  /** failed: the batch holding the store's part (if any) failed; refuse it and everything queued, and rewind. */
  failed(err: DistkvError): void;
  /** synced: every record this store had written before the sync began is on disk. */
  synced(through: number): void;
  /** writtenSeq is the seq of the store's last written record. */
  readonly writtenSeq: number;
  /** durableSeq: records at or below it are durable outside the log (runs, LMDB). */
  readonly durableSeq: number;
  /** retainFrom is the lowest seq a replica (or the seed cursor) still needs, if any. */
  retainFrom(): number | undefined;
}
