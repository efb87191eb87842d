/**
 * When a worker's commit log rolls, and into what (docs/commit-log-format.md, "Rolling"): the
 * writer (commit-log-writer.ts) asks `due` before each batch and, once nothing is in flight, calls
 * `roll` for the next segment. A segment rolls once its frames reach the segment size, or, if it
 * was not preallocated (a new log's first, or the one continued at open), as soon as a spare is
 * ready after it took EARLY_ROLL_BYTES in this run. The spare (commit-log-spare.ts) is started
 * once the segment is half full (or took EARLY_ROLL_BYTES, for an early roll), only when the log
 * preallocates.
 *
 * Pacing: the spare's fill is spread over the way the current segment has left to its roll (to
 * the segment size, or EARLY_ROLL_BYTES further for an early roll): after each batch settles
 * (`settled`, right after the log's sync completed) the spare may hold its share of that way
 * (whole at SPARE_PACE_SHARE of it; its first chunk at once), so it is ready before the roll and
 * its chunks never come back to back while the log syncs. A roll that comes before the spare is ready
 * (the disk was slower than the log, or one batch took the segment past its end) creates its
 * segment as before; the spare is then allowed whole, goes on filling, and that segment rolls into
 * it early once it is ready.
 * Used only on the worker's thread, by its LogWriter.
 */
import type { Logger } from 'pino';
import type { Durability } from '../config/schema.js';
import type { LogSegment } from './commit-log-index.js';
import { rollSegment } from './commit-log-segments.js';
import { SPARE_CHUNK_BYTES, SpareSegment } from './commit-log-spare.js';
import type { Vfs, WritableFile } from './vfs.js';

/**
 * EARLY_ROLL_BYTES is how much a segment that was not preallocated (a new log's first, or the one
 * continued at open) takes before a spare is prepared for it to roll into early: a node that takes
 * writes reaches preallocated segments within a second of starting instead of after a whole
 * segment (64 MiB by default), and one that takes few never zero-fills a spare.
 */
export const EARLY_ROLL_BYTES = 1024 * 1024;

/**
 * SPARE_PACE_SHARE is how far along the current segment's way to its roll the spare should be
 * full: the fill runs at 1/SPARE_PACE_SHARE times the log's pace, and is ready with a third of the
 * way to spare (for batches that arrive faster than the ones before).
 */
export const SPARE_PACE_SHARE = 2 / 3;

/** Pace is the way the spare's fill is paced against: the segment's end from `from` to `to`. */
interface Pace {
  from: number;
  to: number;
}

/** RollOptions configure a LogRoller (the writer's options it uses). */
export interface RollOptions {
  vfs: Vfs;
  dir: string;
  segmentBytes: number;
  durability: Durability;
  /** preallocate: roll into spares (default: with durability "fsync" only; WriterOptions). */
  preallocate?: boolean;
  log?: Logger;
}

/** LogRoller decides a log's rolls and makes its next segments. Used only on the log's worker thread. */
export class LogRoller {
  private readonly opts: RollOptions;
  /** preallocates: this log rolls into spares (RollOptions.preallocate). */
  private readonly preallocates: boolean;
  private readonly logId: string;
  /** spare is the next segment being prepared (commit-log-spare.ts). */
  private readonly spare: SpareSegment;
  /** preallocated: the current segment was made of a spare (its batches are written over zeros). */
  private preallocated = false;
  /** startEnd is where the current segment's batches began in this run (its size at open or roll). */
  private startEnd: number;
  /** failed: the last roll failed; the current segment keeps growing until a batch settles. */
  failed = false;
  /** pace is what the spare being filled is paced against, if one is. */
  private pace: Pace | undefined;

  /** `startEnd` is the size of the segment the log continues or created at open. */
  constructor(opts: RollOptions, logId: string, startEnd: number) {
    this.opts = opts;
    this.logId = logId;
    this.startEnd = startEnd;
    this.preallocates = opts.preallocate ?? opts.durability === 'fsync';
    this.spare = new SpareSegment(opts.vfs, opts.dir, opts.segmentBytes, opts.log);
  }

  /**
   * due says the current segment, whose batches end at `end`, should roll now (once nothing is in
   * flight), and starts preparing its spare when it is time to.
   */
  due(end: number): boolean {
    const { segmentBytes } = this.opts;
    // A segment that grows (not preallocated) rolls early into a spare once it took EARLY_ROLL_BYTES.
    const early = !this.preallocated && end - this.startEnd >= EARLY_ROLL_BYTES;
    if (this.preallocates && (early || end * 2 >= segmentBytes) && this.spare.start())
      this.paceFrom(end, early);
    const full = end >= segmentBytes;
    return (full || (early && this.spare.isReady)) && !this.failed;
  }

  /**
   * roll makes the segment after `current` (from the spare when it is ready) and returns it open
   * for writing; the caller lets the current one go. Throws when it cannot be made.
   */
  async roll(current: LogSegment): Promise<{ file: WritableFile; seg: LogSegment }> {
    const { vfs, dir } = this.opts;
    const next = await rollSegment(vfs, dir, current.no + 1, this.logId, this.spare.take());
    this.startEnd = next.seg.bytes;
    this.preallocated = next.preallocated;
    // A spare still filling may fill whole now (the segment went all its way, or past it in one
    // batch before the spare started, when its pace had no way left to count) and serves the new
    // segment's early roll.
    if (this.spare.isFilling) this.spare.allow(this.opts.segmentBytes);
    this.pace = undefined;
    return next;
  }

  /** settled lets the spare fill its share after a batch settled, the segment's batches ending at `end`. */
  settled(end: number): void {
    const pace = this.pace;
    if (pace === undefined || !this.spare.isFilling) return;
    const way = Math.max(1, (pace.to - pace.from) * SPARE_PACE_SHARE);
    const share = Math.min(1, Math.max(0, end - pace.from) / way);
    // The first chunk at once; chunk k+1 once the log is k/n of the way (n chunks to fill).
    this.spare.allow(Math.max(SPARE_CHUNK_BYTES, share * this.opts.segmentBytes));
  }

  /** paceFrom paces the spare against the current segment's way from `end` to its roll. */
  private paceFrom(end: number, early: boolean): void {
    const { segmentBytes } = this.opts;
    const to = early ? Math.min(segmentBytes, end + EARLY_ROLL_BYTES) : segmentBytes;
    this.pace = { from: end, to };
    this.settled(end);
  }

  /** close stops preparing the spare and deletes it. */
  close(): Promise<void> {
    return this.spare.close();
  }
}
