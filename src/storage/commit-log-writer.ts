/**
 * LogWriter: the group commit of a worker's commit log (commit-log.ts). At the end of the
 * event-loop turn it takes every store's pending records and writes them as one frame per store
 * (commit-log-batch.ts) in ONE append and, with `durability = "fsync"`, ONE fdatasync, then hands
 * each store its part (the store applies and acknowledges it).
 *
 * Pipelining: a turn whose records arrive while earlier batches are still syncing does not wait
 * for them: up to MAX_IN_FLIGHT batches (one per turn) may be syncing at once; appends stay in
 * order, each fdatasync covers everything appended before it, and batches settle strictly in
 * order, so each store's writes resolve in seq order. In `interval` mode writes are acknowledged
 * after the append and a timer syncs every `fsyncIntervalMs`; in `none` mode the OS decides
 * (segments are still synced when sealed and at close).
 *
 * Failure: a batch whose append or sync fails is cut back off the file with every batch appended
 * after it, and every write in them or queued behind them in any store is refused with DISK_FULL
 * (507; commit-log-failure.ts); each store's seq counter rewinds to just after its last written
 * record, so seqs stay gapless. A batch settling while a failed fdatasync (of another batch, or of
 * the log) is not yet answered is refused with it. What the file holds and what is known durable
 * of it, and what a failed fdatasync calls for (writing acknowledged batches again, syncing alone,
 * the cut), is commit-log-tail.ts's (docs/commit-log-format.md, "A failed fdatasync beside
 * another").
 *
 * A segment is rolled once no batch is in flight when commit-log-roll.ts says it is due (full, or
 * early into a ready spare). Batches are written at the tail's `end` (the segment's logical end: a
 * preallocated segment's file is longer until its frames fill it); the newest segment is sealed
 * (cut to `end`) at close. Each batch opens with a sync mark saying the tail's `synced`: how far
 * the segment is known durable (the end of the newest batch settled after its fdatasync, or what
 * the last syncNow covered, or the header after a roll; commit-log-reader.ts uses it to tell a
 * torn in-flight batch from damaged history).
 * Used only on the worker's thread, by its CommitLog.
 */
import type { Logger } from 'pino';
import type { Durability } from '../config/schema.js';
import { DistkvError, toDistkvError } from '../errors.js';
import {
  type Appended,
  type Base,
  type Batch,
  batchSlabs,
  handOver,
  layOut,
  takeParts,
} from './commit-log-batch.js';
import { LogFailure } from './commit-log-failure.js';
import type { LogSegment } from './commit-log-index.js';
import type { LogMember } from './commit-log-member.js';
import { LogRoller } from './commit-log-roll.js';
import { LogStats } from './commit-log-stats.js';
import { SegmentTail } from './commit-log-tail.js';
import type { Vfs, WritableFile } from './vfs.js';

/** MAX_IN_FLIGHT is how many batches may be syncing at once (libuv's default thread pool size). */
export const MAX_IN_FLIGHT = 4;

/** WriterOptions configure a LogWriter (the CommitLog's options it uses). */
export interface WriterOptions {
  vfs: Vfs;
  dir: string;
  segmentBytes: number;
  durability: Durability;
  fsyncIntervalMs: number;
  /** preallocate: roll into spares (default: with durability "fsync" only; CommitLogOptions). */
  preallocate?: boolean;
  log?: Logger;
}

/** LogWriter writes one worker's commit log. Used only on that worker's thread. */
export class LogWriter {
  private readonly opts: WriterOptions;
  /** all are the log's segments, oldest first (the CommitLog's list: a rolled segment is pushed onto it). */
  private readonly all: LogSegment[];
  /** members are the attached stores (the CommitLog's map). */
  private readonly members: ReadonlyMap<number, LogMember>;
  private readonly dirtyMembers = new Set<LogMember>();
  private bases: Base[] = [];
  /** slabs are where batches are laid out (commit-log-batch.ts). */
  private readonly slabs = batchSlabs();
  private scheduled = false;
  /** taking: takeBatch is collecting the members' parts. */
  private taking = false;
  /** inFlight counts batches appended and not yet settled; completed settles after the newest. */
  private inFlight = 0;
  private completed: Promise<void> = Promise.resolve();
  /** failure is the latest failure: what new writes are refused with, and the batches' generation. */
  private readonly failure = new LogFailure();
  /** tail is the newest segment: its file, `end`, `synced`, and what a failed sync calls for (commit-log-tail.ts). */
  private readonly tail: SegmentTail;
  private syncing = false;
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** stats are the log's counters and sync timings (commit-log-stats.ts). */
  readonly stats = new LogStats();
  /** roller decides the rolls and makes the next segments (commit-log-roll.ts). */
  private readonly roller: LogRoller;

  /** `file` is the newest segment of `all`, open for appending; `logId` goes into every segment header. */
  constructor(
    opts: WriterOptions,
    logId: string,
    file: WritableFile,
    all: LogSegment[],
    members: ReadonlyMap<number, LogMember>,
  ) {
    this.opts = opts;
    // The segment is synced when the log opens (sealed, or created whole).
    this.tail = new SegmentTail(
      {
        dir: opts.dir,
        keep: opts.durability !== 'none',
        stats: this.stats,
        failure: this.failure,
        wake: () => {
          this.schedule();
        },
        ...(opts.log === undefined ? {} : { log: opts.log }),
      },
      file,
    );
    this.all = all;
    this.members = members;
    this.roller = new LogRoller(opts, logId, file.size);
    if (opts.durability === 'interval') {
      this.timer = setInterval(() => {
        this.intervalSync();
      }, opts.fsyncIntervalMs);
      this.timer.unref();
    }
  }

  /** isClosed says close() has begun. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** writeBase writes base frame `frame` of store `store` in the next batch, synced whatever the mode. */
  writeBase(frame: Buffer, store: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.bases.push({ frame, store, resolve, reject });
      this.schedule();
    });
  }

  /** forget drops `member` from this turn's batch (its store closed). */
  forget(member: LogMember): void {
    this.dirtyMembers.delete(member);
  }

  /** refusal returns the error new writes get while a failed batch is recent, else undefined. */
  refusal(): DistkvError | undefined {
    if (this.closed) return new DistkvError('UNAVAILABLE', 'store is closed');
    return this.failure.refusal();
  }

  /** failing is the failure no batch has been written since (commit-log-failure.ts), else undefined. */
  failing(): DistkvError | undefined {
    return this.failure.failing();
  }

  /** pending tells the log that `member` has records to write in this turn's batch. */
  pending(member: LogMember): void {
    this.dirtyMembers.add(member);
    // A member made pending while a batch is taken (a mirrored replica) joins that batch.
    if (!this.taking) this.schedule();
  }

  /** flushAll waits until everything handed to the log has been written (and synced in fsync mode). */
  async flushAll(): Promise<void> {
    while (this.inFlight > 0 || this.scheduled || this.tail.held || this.hasPending()) {
      if (this.inFlight > 0) await this.completed;
      else {
        if (!this.scheduled) this.pump();
        await new Promise((r) => setImmediate(r));
      }
    }
  }

  /** sync waits for everything handed to the log, then fsyncs it whatever the durability mode. */
  async sync(): Promise<void> {
    await this.flushAll();
    await this.syncNow();
  }

  /** close writes and syncs what is pending and closes the segment. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flushAll();
    this.closed = true;
    clearInterval(this.timer);
    try {
      await this.syncNow();
      await this.tail.seal();
    } finally {
      await this.tail.file.close();
      await this.roller.close();
    }
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private hasPending(): boolean {
    return this.dirtyMembers.size > 0 || this.bases.length > 0;
  }

  /**
   * pump starts batches while records are pending and fewer than MAX_IN_FLIGHT are being synced.
   * Appends are in order; their fdatasyncs overlap (each covers everything written before it), and
   * batches complete in order (`settle`). A full segment is rolled once nothing is in flight.
   */
  private pump(): void {
    if (this.tail.held || this.closed) return;
    if (this.tail.cutTo !== undefined) {
      this.retryCut(this.tail.cutTo);
      return;
    }
    if (this.roller.due(this.tail.end)) {
      if (this.inFlight === 0) this.rollNow();
      return;
    }
    // Everything pending (every store's records of the turn) goes into one batch: one fdatasync.
    if (this.inFlight < MAX_IN_FLIGHT && this.hasPending()) this.startBatch();
  }

  private takeBatch(): Batch {
    const bases = this.bases;
    this.bases = [];
    let taken: ReturnType<typeof takeParts>;
    this.taking = true;
    try {
      taken = takeParts(this.dirtyMembers, bases);
    } finally {
      this.taking = false;
    }
    return {
      batch: layOut(this.slabs, this.tail.synced, bases, taken.parts, taken.size),
      parts: taken.parts,
      bases,
    };
  }

  private startBatch(): void {
    const generation = this.failure.generation;
    const { batch, parts, bases } = this.takeBatch();
    // The append runs after those queued before it: its offset is the end they leave.
    const before = this.tail.end;
    const b: Appended = {
      batch,
      parts,
      bases,
      seg: this.all[this.all.length - 1]!,
      before,
      sync: this.opts.durability === 'fsync' || bases.length > 0,
      size: before + batch.length,
      durableAtSync: 0,
    };
    this.inFlight++;
    const work = this.tail.append(b);
    const previous = this.completed;
    this.completed = work
      .then(
        () => undefined,
        (err: unknown) => err ?? new Error('commit log write failed'),
      )
      .then(async (err) => {
        await previous;
        this.inFlight--;
        try {
          await this.settle(err, generation, b);
        } catch (settleErr) {
          // Settling only hands records to the stores; a throwing listener must not stall the log.
          this.opts.log?.error(
            { err: toDistkvError(settleErr).message },
            'commit log: settling a batch failed',
          );
        }
        this.pump();
      });
  }

  /** settle finishes a batch, in batch order: acknowledges it, or refuses it and everything after it. */
  private async settle(err: unknown, generation: number, b: Appended): Promise<void> {
    if (generation !== this.failure.generation) {
      // A batch before this one failed: its stores were refused (and rewound) with it.
      for (const x of b.bases) x.reject(this.failure.latest());
      return;
    }
    // A later batch's fdatasync failed while this one's ran: its own success proves nothing (the
    // failed one may have taken the error about this batch's pages), so it is refused with it.
    const failed = err ?? this.tail.failed();
    if (failed !== undefined) {
      await this.fail(failed, b.before, b.bases);
      return;
    }
    this.failure.clear();
    b.seg.bytes = Math.max(b.seg.bytes, b.size);
    this.stats.counters.batches++;
    if (!b.sync) this.dirty = true;
    else this.tail.settled(b);
    for (const x of b.bases) x.resolve();
    handOver(b, this.stats.counters, this.opts.log);
    if (b.sync && this.opts.durability !== 'fsync')
      for (const m of this.members.values()) m.synced(m.writtenSeq);
    this.roller.failed = false;
    this.roller.settled(this.tail.end);
  }

  private rollNow(): void {
    this.tail.hold();
    this.roll()
      .catch((err: unknown) => {
        // The current segment keeps taking writes; rolling is retried after the next batch.
        this.roller.failed = true;
        this.opts.log?.error(
          { err: toDistkvError(err).message },
          'could not start a new commit log segment; continuing in the current one',
        );
      })
      .finally(() => {
        this.tail.release();
        this.pump();
      });
  }

  /** retryCut cuts a failed batch off at `to` before anything else is written; if it still fails, what is pending is refused. */
  private retryCut(to: number): void {
    this.tail.hold();
    void (async () => {
      try {
        await this.tail.retryCut(to);
      } catch (err) {
        await this.fail(err, to, this.bases.splice(0));
      }
    })()
      .catch((err: unknown) => {
        this.opts.log?.error({ err: toDistkvError(err).message }, 'commit log: retrying a cut failed');
      })
      .finally(() => {
        this.tail.release();
        if (this.tail.cutTo === undefined) this.pump();
      });
  }

  /**
   * syncNow fsyncs the current segment and tells every member what is now on disk. It runs alone
   * among the writer's own syncs and cuts; a batch's fdatasync may run beside it, and if one that
   * did fails, what it covered is written again and synced before it returns (SegmentTail.sync).
   */
  private syncNow(): Promise<void> {
    return this.tail.alone(async () => {
      const through = [...this.members.values()].map((m) => [m, m.writtenSeq] as const);
      // Settled batches are written: the sync covers them (unless a roll moved on meanwhile).
      await this.tail.sync(this.all[this.all.length - 1]!.bytes);
      this.dirty = false;
      for (const [m, seq] of through) m.synced(seq);
    });
  }

  /** fail refuses a failed batch and everything after it, in every store, and cuts it back off the file. */
  private async fail(err: unknown, before: number, bases: readonly Base[]): Promise<void> {
    const refusal = this.failure.batchFailed(err);
    this.stats.counters.failures++;
    this.opts.log?.error(
      { err: toDistkvError(err).message, dir: this.opts.dir },
      'commit log write failed; refusing writes and retrying',
    );
    // Everything written or queued behind the failed batch carries later seqs: refuse it too, in
    // every store (each rewinds to just after its last acknowledged record).
    for (const m of this.members.values()) m.failed(refusal);
    for (const m of this.dirtyMembers) m.failed(refusal);
    this.dirtyMembers.clear();
    for (const b of bases) b.reject(refusal);
    for (const b of this.bases.splice(0)) b.reject(refusal);
    this.tail.hold();
    try {
      await this.tail.cut(before);
    } finally {
      this.tail.release();
    }
  }

  private intervalSync(): void {
    if (!this.dirty || this.syncing || this.closed) return;
    this.syncing = true;
    this.syncNow()
      .catch((err: unknown) => {
        this.failure.syncFailed(err);
        this.opts.log?.error({ err: toDistkvError(err).message }, 'periodic commit log sync failed');
      })
      .finally(() => {
        this.syncing = false;
      });
  }

  private async roll(): Promise<void> {
    if (this.opts.durability !== 'fsync') await this.syncNow();
    // The segment left has no zeros after its frames: `end` reached segmentBytes, the size of the
    // spare it was made of, or it was not preallocated (an early roll). The new segment must be
    // whole before the current one is let go.
    const next = await this.roller.roll(this.all[this.all.length - 1]!);
    const old = this.tail.file;
    this.tail.moveTo(next.file, next.seg.bytes);
    this.all.push(next.seg);
    await old.close();
  }
}
