/**
 * CommitLog: the one log of a worker thread, shared by every store it owns (docs/commit-log-format.md),
 * with group commit across all of them.
 *
 * Each store's StoreLog (store-log.ts) assigns its own seqs and encodes its records into a buffer of
 * its own; at the end of the event-loop turn the log's writer (commit-log-writer.ts) takes every
 * store's pending records, writes them as one frame per store in ONE append and, with
 * `durability = "fsync"`, ONE fdatasync, then hands each store its part (the store applies and
 * acknowledges it). A failed batch is cut back off and its writes, and those behind it, refused.
 *
 * This module keeps the log's stores (`attach`, `pin`, `detach`) and its segments, opened by
 * commit-log-segments.ts. Retention: a sealed segment is deleted (oldest first) once no attached
 * store needs it (commit-log-retention.ts). Trimming starts only once every store of the worker is
 * attached (`startTrimming`).
 */
import type { Logger } from 'pino';
import type { Durability } from '../config/schema.js';
import { DistkvError } from '../errors.js';
import type { LatencyHistogram } from '../util/latency-histogram.js';
import { encodeBaseFrame } from './commit-log-format.js';
import { type LogSegment, voidFrom } from './commit-log-index.js';
import type { LogMember } from './commit-log-member.js';
import { type RetentionNeed, trimmable } from './commit-log-retention.js';
import { openSegments } from './commit-log-segments.js';
import type { LogStats } from './commit-log-stats.js';
import { LogWriter } from './commit-log-writer.js';
import type { Vfs } from './vfs.js';

/** CommitLogOptions configure a CommitLog. */
export interface CommitLogOptions {
  vfs: Vfs;
  dir: string;
  segmentBytes: number;
  retentionBytes: number;
  durability: Durability;
  fsyncIntervalMs: number;
  /**
   * preallocate: roll into pre-zeroed spare segments (commit-log-spare.ts). Default: only with
   * durability "fsync", where every batch is synced; "interval" and "none" sync rarely, so a spare's
   * zero-fill would only add writes (docs/commit-log-format.md, "Rolling").
   */
  preallocate?: boolean;
  /** segments are the existing segments from recovery, oldest first (the newest is continued if it has room). */
  segments: LogSegment[];
  log?: Logger;
}

/** CommitLog is one worker's log: its stores, its segments and its writer. Used only on that worker's thread. */
export class CommitLog {
  private readonly opts: CommitLogOptions;
  /** logId is written into every segment header (commit-log-identity.ts). */
  private readonly logId: string;
  /** all are the segments, oldest first, the one being written last (the writer adds those it rolls to). */
  private readonly all: LogSegment[] = [];
  /** members are the attached stores (the writer reads them). */
  private readonly members = new Map<number, LogMember>();
  /** pinned are stores that could not open: every segment holding their records is kept. */
  private readonly pinned = new Set<number>();
  /**
   * departed are stores that closed with records above their durable seq (their last flush
   * failed): those records are only in the log until the store reopens and replays them, so
   * retention keeps counting them (with no replica) until a store of that id attaches again.
   */
  private readonly departed = new Map<number, RetentionNeed>();
  /** held are stores of another worker that still take their records from this log (holdFor). */
  private readonly held = new Map<number, () => boolean>();
  private trimming = false;
  private readonly writer: LogWriter;

  private constructor(opts: CommitLogOptions, opened: Awaited<ReturnType<typeof openSegments>>) {
    this.opts = opts;
    this.logId = opened.logId;
    this.all.push(...opts.segments);
    if (opened.created !== undefined) this.all.push(opened.created);
    this.writer = new LogWriter(opts, opened.logId, opened.file, this.all, this.members);
  }

  /** open continues the newest segment or starts the next one. */
  static async open(opts: CommitLogOptions): Promise<CommitLog> {
    return new CommitLog(opts, await openSegments(opts));
  }

  /** counters for /stats. */
  get counters(): LogStats['counters'] {
    return this.writer.stats.counters;
  }

  /** syncSeconds times every fdatasync of the log (for the /metrics histogram). */
  get syncSeconds(): LatencyHistogram {
    return this.writer.stats.syncSeconds;
  }

  /** durability is the log's durability mode. */
  get durability(): Durability {
    return this.opts.durability;
  }

  /** id is the log's identity (commit-log-identity.ts), in hex. */
  get id(): string {
    return this.logId;
  }

  /** dir is the log's directory. */
  get dir(): string {
    return this.opts.dir;
  }

  /** segmentBytes is the size a segment rolls at. */
  get segmentBytes(): number {
    return this.opts.segmentBytes;
  }

  /** vfs is the file seam the log's segments are read through. */
  get vfs(): Vfs {
    return this.opts.vfs;
  }

  /** segments lists every segment with its index, oldest first, the one being written last (live: do not modify). */
  segments(): readonly LogSegment[] {
    return this.all;
  }

  /** bytes is the total size of all segments. */
  bytes(): number {
    return this.all.reduce((n, s) => n + s.bytes, 0);
  }

  /**
   * attach makes `member` a writer of this log, after a FRAME_BASE (synced whatever the mode)
   * saying that its next record has seq `nextSeq`: anything of the store earlier in the log with
   * that seq or above is void from then on (a store rebuilt from a snapshot starts again).
   */
  async attach(member: LogMember, nextSeq: number): Promise<void> {
    if (this.members.has(member.id))
      throw new DistkvError('INTERNAL', `two stores share the commit log id ${member.id}`);
    this.members.set(member.id, member);
    this.departed.delete(member.id);
    voidFrom(this.all, member.id, nextSeq);
    await this.writer.writeBase(encodeBaseFrame(member.id, member.epoch, nextSeq), member.id);
  }

  /**
   * holdFor keeps every segment holding records of store `id`, which no store here writes, while
   * `wanted()` (asked at each trim) says that store still takes its records from this log: a
   * store that moved to another worker's log reads its records out of this one when that worker
   * opens it, which may come after this log's first trim.
   */
  holdFor(id: number, wanted: () => boolean): void {
    this.held.set(id, wanted);
  }

  /** pin keeps every segment holding records of store `id` (a store of the worker that could not open). */
  pin(id: number): void {
    this.pinned.add(id);
  }

  /**
   * detach stops counting `member` for retention (its store closed); what it wrote stays in the
   * log, and the segments holding its records above its durable seq are kept (`departed`).
   */
  detach(member: LogMember): void {
    if (this.members.get(member.id) === member) {
      this.members.delete(member.id);
      const { id, durableSeq } = member;
      if (member.writtenSeq > durableSeq)
        this.departed.set(id, { id, durableSeq, retainFrom: () => undefined });
    }
    this.writer.forget(member);
  }

  /** refusal returns the error new writes get while a failed batch is recent, else undefined. */
  refusal(): DistkvError | undefined {
    return this.writer.refusal();
  }

  /** failing is the failure no batch has been written since (commit-log-failure.ts), else undefined. */
  failing(): DistkvError | undefined {
    return this.writer.failing();
  }

  /** pending tells the log that `member` has records to write in this turn's batch. */
  pending(member: LogMember): void {
    this.writer.pending(member);
  }

  /** startTrimming allows deleting segments (once every store of the worker is attached). */
  startTrimming(): void {
    this.trimming = true;
  }

  /** flushAll waits until everything handed to the log has been written (and synced in fsync mode). */
  flushAll(): Promise<void> {
    return this.writer.flushAll();
  }

  /** sync waits for everything handed to the log, then fsyncs it whatever the durability mode. */
  sync(): Promise<void> {
    return this.writer.sync();
  }

  /** close writes and syncs what is pending and closes the segment. */
  close(): Promise<void> {
    return this.writer.close();
  }

  /**
   * trim deletes the oldest sealed segments no attached store needs any more (see the module
   * comment); returns how many. It never throws (its callers are a store's flush and compaction,
   * whose failure here would end the worker thread): a segment it cannot delete stays, with every
   * later one, for the next trim, so the segments left keep consecutive numbers.
   */
  trim(): number {
    if (!this.trimming || this.writer.isClosed) return 0;
    for (const [id, wanted] of this.held) if (this.members.has(id) || !wanted()) this.held.delete(id);
    const needs = [...this.members.values(), ...this.departed.values()];
    const pinned = this.held.size === 0 ? this.pinned : new Set([...this.pinned, ...this.held.keys()]);
    const n = trimmable(this.all, needs, pinned, this.opts.retentionBytes);
    let deleted = 0;
    try {
      for (; deleted < n; deleted++) this.opts.vfs.unlink(this.all[deleted]!.path);
    } catch (err) {
      this.opts.log?.warn(
        { err: (err as Error).message, dir: this.opts.dir, segment: this.all[deleted]?.path },
        'could not delete a commit log segment no store needs; the next trim tries again',
      );
    }
    if (deleted === 0) return 0;
    this.all.splice(0, deleted);
    try {
      this.opts.vfs.syncDir(this.opts.dir);
    } catch (err) {
      this.opts.log?.warn(
        { err: (err as Error).message, dir: this.opts.dir },
        'could not sync the commit log directory after deleting segments',
      );
    }
    return deleted;
  }
}
