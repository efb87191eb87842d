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
 * record, so seqs stay gapless. A failed fdatasync may have dropped the pages of batches already
 * acknowledged (`interval`): they are written again and synced (commit-log-unsynced.ts). So may
 * one that ran beside the fdatasync of an earlier batch (Linux reports a writeback error once per
 * open file: the other sync may return 0): a failure is noted as soon as it returns, a batch not
 * yet settled is refused with it, and the cut waits for every sync in flight, then writes the
 * acknowledged batches it may have covered again and syncs alone; if that fails, the log refuses
 * every write (docs/commit-log-format.md, "A failed fdatasync beside another").
 *
 * A segment is rolled once no batch is in flight when commit-log-roll.ts says it is due (full, or
 * early into a ready spare). Batches are
 * written at the writer's own offset, `end` (the segment's logical end: a preallocated segment's
 * file is longer until its frames fill it); the newest segment is sealed (cut to `end`) at close.
 * Each batch opens with a sync mark saying `synced`: how far the segment is known durable (the end
 * of the newest batch settled after its fdatasync, or what the last syncNow covered, or the header
 * after a roll; commit-log-reader.ts uses it to tell a torn in-flight batch from damaged history).
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
import { OverlappingSyncs } from './commit-log-overlap.js';
import { UnsyncedBatches } from './commit-log-unsynced.js';
import { LogRoller } from './commit-log-roll.js';
import { sealAt } from './commit-log-segments.js';
import { LogStats } from './commit-log-stats.js';
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
  private file: WritableFile;
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
  private appendTail: Promise<void> = Promise.resolve();
  /** failure is the latest failure: what new writes are refused with, and the batches' generation. */
  private readonly failure = new LogFailure();
  /** unsynced are the batches of the current segment a failed fdatasync could still take from the disk (commit-log-unsynced.ts). */
  private readonly unsynced = new UnsyncedBatches();
  /** overlap tracks the batches' appends and fdatasyncs in flight and their failures (commit-log-overlap.ts). */
  private readonly overlap = new OverlappingSyncs();
  /** blocks counts the rolls, cuts and sync repairs under way; while one is, no batch starts. */
  private blocks = 0;
  /** solo chains the writer's own syncs and its cuts, so that each runs alone (`alone`). */
  private solo: Promise<void> = Promise.resolve();
  private syncing = false;
  /** end is the current segment's logical end once every batch started is written (its file may be longer: preallocated). */
  private end = 0;
  /** synced is how far the current segment is known durable (an fdatasync that covered it completed). */
  private synced = 0;
  private dirty = false;
  private cutTo: number | undefined;
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
    this.file = file;
    this.end = file.size;
    // The segment is synced when the log opens (sealed, or created whole).
    this.synced = file.size;
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

  /** pending tells the log that `member` has records to write in this turn's batch. */
  pending(member: LogMember): void {
    this.dirtyMembers.add(member);
    // A member made pending while a batch is taken (a mirrored replica) joins that batch.
    if (!this.taking) this.schedule();
  }

  /** flushAll waits until everything handed to the log has been written (and synced in fsync mode). */
  async flushAll(): Promise<void> {
    while (this.inFlight > 0 || this.scheduled || this.blocks > 0 || this.hasPending()) {
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
      if (this.file.size > this.end) await sealAt(this.file, this.end);
    } finally {
      await this.file.close();
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
    if (this.blocks > 0 || this.closed) return;
    if (this.cutTo !== undefined) {
      this.retryCut();
      return;
    }
    if (this.roller.due(this.end)) {
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
      batch: layOut(this.slabs, this.synced, bases, taken.parts, taken.size),
      parts: taken.parts,
      bases,
    };
  }

  private startBatch(): void {
    const generation = this.failure.generation;
    const { batch, parts, bases } = this.takeBatch();
    const file = this.file;
    const seg = this.all[this.all.length - 1]!;
    // The append runs after those queued before it: its offset is the end they leave.
    const before = this.end;
    this.end += batch.length;
    const sync = this.opts.durability === 'fsync' || bases.length > 0;
    const b: Appended = {
      batch,
      parts,
      bases,
      seg,
      before,
      sync,
      size: before + batch.length,
      durableAtSync: 0,
    };
    this.inFlight++;
    if (this.opts.durability !== 'none') this.unsynced.add(file, before, batch);
    // Writes are issued in order (the previous one has returned before this one starts).
    const appended = this.appendTail.then(() => file.writeAt(batch, before));
    this.appendTail = appended.catch(() => undefined);
    const work = appended.then(() => (sync ? this.syncBatch(file, b) : undefined));
    this.overlap.track(work);
    const previous = this.completed;
    this.completed = work
      .then(
        () => undefined,
        (err: unknown) => err ?? new Error('commit log write failed'),
      )
      .then(async (err) => {
        this.overlap.done(work);
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

  /** syncBatch fdatasyncs `file` for batch `b`, a failure noted at once (commit-log-overlap.ts). */
  private syncBatch(file: WritableFile, b: Appended): Promise<void> {
    b.durableAtSync = this.synced;
    return this.overlap.sync(
      b.durableAtSync,
      () => this.stats.timedSync(file),
      () => file === this.file,
    );
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
    const failed = err ?? this.overlap.failed();
    if (failed !== undefined) {
      await this.fail(failed, b.before, b.bases);
      return;
    }
    this.failure.clear();
    b.seg.bytes = Math.max(b.seg.bytes, b.size);
    this.stats.counters.batches++;
    if (!b.sync) this.dirty = true;
    else {
      this.synced = Math.max(this.synced, b.size);
      // Kept until no fdatasync issued before this one's success could take it back: a later
      // batch's failed sync may have covered every byte past what was durable when it was issued.
      this.unsynced.synced(this.file, this.overlap.keepAbove(b.durableAtSync));
    }
    for (const x of b.bases) x.resolve();
    handOver(b, this.stats.counters, this.opts.log);
    if (b.sync && this.opts.durability !== 'fsync')
      for (const m of this.members.values()) m.synced(m.writtenSeq);
    this.roller.failed = false;
    this.roller.settled(this.end);
  }

  private rollNow(): void {
    this.blocks++;
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
        this.blocks--;
        this.pump();
      });
  }

  /** retryCut cuts a failed batch off before anything else is written; if it still fails, what is pending is refused. */
  private retryCut(): void {
    const to = this.cutTo;
    if (to === undefined) return;
    this.blocks++;
    void (async () => {
      try {
        await this.alone(async () => {
          await this.restore(this.file);
          await this.file.truncate(to);
          await this.file.sync();
          this.cutDone(to);
        });
      } catch (err) {
        await this.fail(err, to, this.bases.splice(0));
      }
    })()
      .catch((err: unknown) => {
        this.opts.log?.error({ err: toDistkvError(err).message }, 'commit log: retrying a cut failed');
      })
      .finally(() => {
        this.blocks--;
        if (this.cutTo === undefined) this.pump();
      });
  }

  /** alone runs `fn` after the writer's own syncs and cuts issued before it have ended. */
  private alone<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.solo.then(fn);
    this.solo = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /**
   * syncNow fsyncs the current segment and tells every member what is now on disk. It runs alone
   * among the writer's own syncs and cuts; a batch's fdatasync may run beside it, and if one that
   * did fails, what it covered is written again and synced before it returns (repairSync).
   */
  private syncNow(): Promise<void> {
    return this.alone(async () => {
      const through = [...this.members.values()].map((m) => [m, m.writtenSeq] as const);
      // Settled batches are written: the sync covers them (unless a roll moved on meanwhile).
      const file = this.file;
      const settled = this.all[this.all.length - 1]!.bytes;
      // A batch's fdatasync beside this one could fail having taken the error about what this one
      // covers: the batches stay kept unless this sync ran alone.
      const mark = this.overlap.mark();
      let failed: unknown;
      try {
        await this.overlap.own(
          this.synced,
          () => this.stats.timedSync(file),
          () => file === this.file,
        );
        if (!this.overlap.ranAlone(mark)) {
          // One that ran beside it and failed may have taken the error about what it covered.
          await this.overlap.quiet();
          failed = this.overlap.failedSince(mark);
        }
      } catch (err) {
        failed = err ?? new Error('commit log sync failed');
      }
      if (failed !== undefined) {
        if (file !== this.file || this.opts.durability === 'none')
          throw failed instanceof Error ? failed : toDistkvError(failed);
        await this.repairSync(file, failed);
      }
      this.dirty = false;
      if (file === this.file) {
        this.synced = Math.max(this.synced, Math.min(settled, this.end));
        if (this.overlap.ranAlone(mark)) this.unsynced.synced(file, this.synced);
      }
      for (const [m, seq] of through) m.synced(seq);
    });
  }

  /**
   * repairSync answers a failed fdatasync of `file` (syncNow's, or a batch's beside it): the kernel
   * may have dropped the pages it could not write and will not report it again, so the unsynced
   * batches are written again and synced, once every batch's append and fdatasync in flight has
   * returned and with none starting (one beside it could take the error about the bytes written
   * again). That answers the failures noted meanwhile. If it fails too the log is broken: every
   * write is refused from then on (LogFailure.broke).
   */
  private async repairSync(file: WritableFile, err: unknown): Promise<void> {
    this.stats.counters.syncRepairs++;
    this.opts.log?.error(
      { err: toDistkvError(err).message, dir: this.opts.dir, batches: this.unsynced.count },
      'commit log sync failed; writing the unsynced batches again',
    );
    this.blocks++;
    try {
      await this.overlap.quiet();
      await this.restore(file);
      await this.overlap.own(
        this.synced,
        () => this.stats.timedSync(file),
        () => file === this.file,
      );
      this.overlap.forget();
    } catch (again) {
      this.failure.broke(again);
      this.opts.log?.fatal(
        { err: toDistkvError(again).message, dir: this.opts.dir },
        'commit log sync failed again after writing the unsynced batches again; acknowledged writes may be lost at a power cut, and the log refuses every write until the worker restarts',
      );
      throw again;
    } finally {
      this.blocks--;
      this.schedule();
    }
  }

  /**
   * restore writes the unsynced batches of `file` below `end` again, after every write issued
   * (and before any issued later): a failed sync may have dropped their pages. Every cut awaits it.
   */
  private restore(file: WritableFile): Promise<void> {
    const done = this.appendTail.then(() => this.unsynced.rewrite(file, () => this.end));
    this.appendTail = done.catch(() => undefined);
    return done;
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
    // Cut the refused batches back off so the log never holds a record that was not acknowledged.
    this.blocks++;
    this.end = before;
    this.synced = Math.min(this.synced, before);
    this.unsynced.cut(before);
    let atRisk = 0;
    try {
      await this.alone(async () => {
        // Every append and fdatasync in flight ends first (and the writer's own sync: `alone`):
        // none lands past the cut, and none runs beside the cut's sync (it could take the error
        // about the bytes written again below).
        atRisk = this.unsynced.endingWithin(await this.overlap.answer(), before);
        // What a failed sync may have dropped below the cut (acknowledged batches) is written
        // again after every write issued, before the cut is synced.
        await this.restore(this.file);
        await this.file.truncate(before);
        await this.file.sync();
        this.cutDone(before);
      });
    } catch (cutErr) {
      this.cutTo = before;
      if (atRisk > 0) this.breakAfterCut(cutErr, atRisk);
      else
        this.opts.log?.error(
          { err: toDistkvError(cutErr).message },
          'could not cut a failed batch off the commit log; will cut it before the next write',
        );
    } finally {
      this.blocks--;
    }
  }

  /** cutDone: the segment was cut to `to`, with the batches below it written again, and synced. */
  private cutDone(to: number): void {
    this.cutTo = undefined;
    this.synced = to;
    this.unsynced.synced(this.file, to);
  }

  /**
   * breakAfterCut: the sync of a cut failed after writing again `batches` acknowledged batches a
   * failed fdatasync may have dropped. They may not be on the disk: rather than take writes
   * over a hole, the log refuses every write until the worker restarts (LogFailure.broke).
   */
  private breakAfterCut(err: unknown, batches: number): void {
    this.failure.broke(err);
    this.opts.log?.fatal(
      { err: toDistkvError(err).message, dir: this.opts.dir, batches },
      'commit log sync failed again after writing acknowledged batches again behind a failed fdatasync; they may be lost at a power cut, and the log refuses every write until the worker restarts',
    );
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
    const old = this.file;
    this.file = next.file;
    this.end = next.seg.bytes;
    this.synced = next.seg.bytes;
    this.all.push(next.seg);
    await old.close();
  }
}
