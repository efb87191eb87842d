/**
 * When a worker's commit log rolls, and into what (docs/commit-log-format.md, "Rolling"): the
 * writer (commit-log-writer.ts) asks `due` before each batch and, once nothing is in flight, calls
 * `roll` for the next segment. A segment rolls once its frames reach the segment size, or, if it
 * was not preallocated (a new log's first, or the one continued at open), as soon as a spare is
 * ready after it took EARLY_ROLL_BYTES in this run. The spare (commit-log-spare.ts) is started
 * once the segment is half full (or took EARLY_ROLL_BYTES, for an early roll), only when the log
 * preallocates. Used only on the worker's thread, by its LogWriter.
 */
import type { Logger } from 'pino';
import type { LogSegment } from './commit-log-index.js';
import { rollSegment } from './commit-log-segments.js';
import { SpareSegment } from './commit-log-spare.js';
import type { Vfs, WritableFile } from './vfs.js';

/**
 * EARLY_ROLL_BYTES is how much a segment that was not preallocated (a new log's first, or the one
 * continued at open) takes before a spare is prepared for it to roll into early: a node that takes
 * writes reaches preallocated segments within a second of starting instead of after a whole
 * segment (64 MiB by default), and one that takes few never zero-fills a spare.
 */
export const EARLY_ROLL_BYTES = 1024 * 1024;

/** RollOptions configure a LogRoller (the writer's options it uses). */
export interface RollOptions {
  vfs: Vfs;
  dir: string;
  segmentBytes: number;
  /** preallocates: roll into spares (WriterOptions.preallocate, resolved). */
  preallocates: boolean;
  log?: Logger;
}

/** LogRoller decides a log's rolls and makes its next segments. Used only on the log's worker thread. */
export class LogRoller {
  private readonly opts: RollOptions;
  private readonly logId: string;
  /** spare is the next segment being prepared (commit-log-spare.ts). */
  private readonly spare: SpareSegment;
  /** preallocated: the current segment was made of a spare (its batches are written over zeros). */
  private preallocated = false;
  /** startEnd is where the current segment's batches began in this run (its size at open or roll). */
  private startEnd: number;
  /** failed: the last roll failed; the current segment keeps growing until a batch settles. */
  failed = false;

  /** `startEnd` is the size of the segment the log continues or created at open. */
  constructor(opts: RollOptions, logId: string, startEnd: number) {
    this.opts = opts;
    this.logId = logId;
    this.startEnd = startEnd;
    this.spare = new SpareSegment(opts.vfs, opts.dir, opts.segmentBytes, opts.log);
  }

  /**
   * due says the current segment, whose batches end at `end`, should roll now (once nothing is in
   * flight), and starts preparing its spare when it is time to.
   */
  due(end: number): boolean {
    const { segmentBytes, preallocates } = this.opts;
    // A segment that grows (not preallocated) rolls early into a spare once it took EARLY_ROLL_BYTES.
    const early = !this.preallocated && end - this.startEnd >= EARLY_ROLL_BYTES;
    if (preallocates && (early || end * 2 >= segmentBytes)) this.spare.start();
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
    return next;
  }

  /** close stops preparing the spare and deletes it. */
  close(): Promise<void> {
    return this.spare.close();
  }
}
