/**
 * SegmentTail: the newest segment of a worker's commit log as its writer (commit-log-writer.ts)
 * writes it: where the next batch goes (`end`), how far the segment is known durable (`synced`),
 * the appends in order, and what a failed fdatasync calls for (docs/commit-log-format.md,
 * "Writing" and "A failed fdatasync beside another"): the batches written and not yet known durable
 * (commit-log-unsynced.ts), the fdatasyncs running at once and their failures
 * (commit-log-overlap.ts), writing the batches again and syncing alone after a failed sync of the
 * log (repair), and cutting refused batches back off the file (cut).
 *
 * The writer decides what is in a batch, when it settles and which writes are refused; the tail
 * owns the file's bytes and what is known of them.
 *
 * Invariants: appends are issued in order, each at the `end` the ones before it leave; a
 * rewrite of kept batches runs after every append issued before it (and before any issued after);
 * the writer's own syncs, repairs and cuts run one at a time (`alone`), and a repair or a cut runs
 * with no batch's append or fdatasync in flight and none starting (`held`). Used only on the log's
 * worker thread.
 */
import type { Logger } from 'pino';
import { toDistkvError } from '../errors.js';
import type { Appended } from './commit-log-batch.js';
import type { LogFailure } from './commit-log-failure.js';
import { OverlappingSyncs } from './commit-log-overlap.js';
import { sealAt } from './commit-log-segments.js';
import type { LogStats } from './commit-log-stats.js';
import { UnsyncedBatches } from './commit-log-unsynced.js';
import type { WritableFile } from './vfs.js';

/** TailOptions are what a SegmentTail shares with its writer. */
export interface TailOptions {
  dir: string;
  /** keep: batches are kept until known durable (every durability mode but `none`). */
  keep: boolean;
  stats: LogStats;
  /** failure is the writer's: a repair or a cut that cannot make acknowledged writes durable breaks it. */
  failure: LogFailure;
  /** wake is called when a repair lets batches start again. */
  wake: () => void;
  log?: Logger;
}

/** SegmentTail is the newest segment file of one worker's commit log, open for appending. */
export class SegmentTail {
  private readonly opts: TailOptions;
  private current: WritableFile;
  private endAt: number;
  private syncedTo: number;
  private appendTail: Promise<void> = Promise.resolve();
  /** unsynced are the batches a failed fdatasync could still take from the disk (commit-log-unsynced.ts). */
  private readonly unsynced = new UnsyncedBatches();
  /** overlap tracks the batches' appends and fdatasyncs in flight and their failures (commit-log-overlap.ts). */
  private readonly overlap = new OverlappingSyncs();
  /** solo chains the writer's own syncs and the cuts, so that each runs alone (`alone`). */
  private solo: Promise<void> = Promise.resolve();
  /** holds counts the rolls, cuts and repairs under way; while one is, no batch starts. */
  private holds = 0;
  /** pendingCut is where a cut that failed must still cut the segment before anything else is written (`cutTo`). */
  private pendingCut: number | undefined;

  /** `file` is whole and synced up to its size (the log just opened, or a roll made it). */
  constructor(opts: TailOptions, file: WritableFile) {
    this.opts = opts;
    this.current = file;
    this.endAt = file.size;
    this.syncedTo = file.size;
  }

  /** file is the segment file batches are written into. */
  get file(): WritableFile {
    return this.current;
  }

  /** end is the segment's logical end once every batch started is written (its file may be longer: preallocated). */
  get end(): number {
    return this.endAt;
  }

  /** synced is how far the segment is known durable (an fdatasync that covered it completed). */
  get synced(): number {
    return this.syncedTo;
  }

  /** cutTo is where a failed cut must still cut the segment before the next write, else undefined. */
  get cutTo(): number | undefined {
    return this.pendingCut;
  }

  /** held: a roll, a cut or a repair is under way; no batch starts. */
  get held(): boolean {
    return this.holds > 0;
  }

  /** hold stops batches from starting until the matching release. */
  hold(): void {
    this.holds++;
  }

  /** release ends a hold. */
  release(): void {
    this.holds--;
  }

  /** moveTo makes `file`, whole and synced up to `size` (a roll), the segment written into. */
  moveTo(file: WritableFile, size: number): void {
    this.current = file;
    this.endAt = size;
    this.syncedTo = size;
  }

  /**
   * append writes batch `b` at `end` (b.before), after every append issued before it, and then,
   * if `b.sync`, fdatasyncs the file, a failure noted at once (commit-log-overlap.ts). Returns
   * when both are done; the writer settles the batch after those before it.
   */
  append(b: Appended): Promise<void> {
    const file = this.current;
    this.endAt = b.size;
    if (this.opts.keep) this.unsynced.add(file, b.before, b.batch);
    const appended = this.appendTail.then(() => file.writeAt(b.batch, b.before));
    this.appendTail = appended.catch(() => undefined);
    const work = appended.then(() => (b.sync ? this.syncBatch(file, b) : undefined));
    this.overlap.track(work);
    return work.finally(() => {
      this.overlap.done(work);
    });
  }

  private syncBatch(file: WritableFile, b: Appended): Promise<void> {
    b.durableAtSync = this.syncedTo;
    return this.overlap.sync(
      b.durableAtSync,
      () => this.opts.stats.timedSync(file),
      () => file === this.current,
    );
  }

  /** failed is the error of a failed fdatasync no cut or repair has answered yet, else undefined. */
  failed(): unknown {
    return this.overlap.failed();
  }

  /** settled: batch `b`, synced, settled as written. */
  settled(b: Appended): void {
    this.syncedTo = Math.max(this.syncedTo, b.size);
    // Kept until no fdatasync issued before this one's success could take it back: a later
    // batch's failed sync may have covered every byte past what was durable when it was issued.
    this.unsynced.synced(this.current, this.overlap.keepAbove(b.durableAtSync));
  }

  /** alone runs `fn` after the writer's own syncs and the cuts issued before it have ended. */
  alone<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.solo.then(fn);
    this.solo = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /**
   * sync fsyncs the segment for the writer (call it inside `alone`), then makes `settled` (the
   * end of the batches settled when it was called) known durable. A batch's fdatasync may run
   * beside it: if one that did fails (it may have taken the error about what this one covered),
   * or this one fails, the kept batches are written again and synced (repair) before it returns;
   * with nothing kept (`none`) or the segment rolled meanwhile, the error is thrown instead.
   */
  async sync(settled: number): Promise<void> {
    const file = this.current;
    // The kept batches go only if this sync ran alone.
    const mark = this.overlap.mark();
    let failed: unknown;
    try {
      await this.overlap.own(
        this.syncedTo,
        () => this.opts.stats.timedSync(file),
        () => file === this.current,
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
      if (file !== this.current || !this.opts.keep)
        throw failed instanceof Error ? failed : toDistkvError(failed);
      await this.repair(file, failed);
    }
    if (file === this.current) {
      this.syncedTo = Math.max(this.syncedTo, Math.min(settled, this.endAt));
      if (this.overlap.ranAlone(mark)) this.unsynced.synced(file, this.syncedTo);
    }
  }

  /**
   * repair answers a failed fdatasync of `file` (the writer's own, or a batch's beside it): the
   * kernel may have dropped the pages it could not write and will not report it again, so the
   * unsynced batches are written again and synced, once every batch's append and fdatasync in
   * flight has returned and with none starting (one beside it could take the error about the bytes
   * written again). That answers the failures noted meanwhile. If it fails too the log is broken:
   * every write is refused from then on (LogFailure.broke).
   */
  private async repair(file: WritableFile, err: unknown): Promise<void> {
    this.opts.stats.counters.syncRepairs++;
    this.opts.log?.error(
      { err: toDistkvError(err).message, dir: this.opts.dir, batches: this.unsynced.count },
      'commit log sync failed; writing the unsynced batches again',
    );
    this.holds++;
    try {
      await this.overlap.quiet();
      await this.restore(file);
      await this.overlap.own(
        this.syncedTo,
        () => this.opts.stats.timedSync(file),
        () => file === this.current,
      );
      this.overlap.forget();
    } catch (again) {
      this.opts.failure.broke(again);
      this.opts.log?.fatal(
        { err: toDistkvError(again).message, dir: this.opts.dir },
        'commit log sync failed again after writing the unsynced batches again; acknowledged writes may be lost at a power cut, and the log refuses every write until the worker restarts',
      );
      throw again;
    } finally {
      this.holds--;
      this.opts.wake();
    }
  }

  /**
   * restore writes the unsynced batches of `file` below `end` again, after every write issued
   * (and before any issued later): a failed sync may have dropped their pages. Every cut awaits it.
   */
  private restore(file: WritableFile): Promise<void> {
    const done = this.appendTail.then(() => this.unsynced.rewrite(file, () => this.endAt));
    this.appendTail = done.catch(() => undefined);
    return done;
  }

  /**
   * cut cuts the refused batches from `before` on back off the file (call it holding), so the log
   * never holds a record that was not acknowledged. If that fails, the cut is retried before the
   * next write (`cutTo`, retryCut); if it failed after writing again an acknowledged batch a failed
   * fdatasync may have dropped, the log breaks instead.
   */
  async cut(before: number): Promise<void> {
    this.endAt = before;
    this.syncedTo = Math.min(this.syncedTo, before);
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
        await this.cutAlone(before);
      });
    } catch (cutErr) {
      this.pendingCut = before;
      if (atRisk > 0) this.breakAfterCut(cutErr, atRisk);
      else
        this.opts.log?.error(
          { err: toDistkvError(cutErr).message },
          'could not cut a failed batch off the commit log; will cut it before the next write',
        );
    }
  }

  /** retryCut tries the cut that failed again (call it holding, with `cutTo` set); throws if it fails again. */
  retryCut(to: number): Promise<void> {
    return this.alone(() => this.cutAlone(to));
  }

  private async cutAlone(to: number): Promise<void> {
    await this.restore(this.current);
    await this.current.truncate(to);
    await this.current.sync();
    // The segment was cut to `to`, with the batches below it written again, and synced.
    this.pendingCut = undefined;
    this.syncedTo = to;
    this.unsynced.synced(this.current, to);
  }

  /**
   * breakAfterCut: the sync of a cut failed after writing again `batches` acknowledged batches a
   * failed fdatasync may have dropped. They may not be on the disk: rather than take writes
   * over a hole, the log refuses every write until the worker restarts (LogFailure.broke).
   */
  private breakAfterCut(err: unknown, batches: number): void {
    this.opts.failure.broke(err);
    this.opts.log?.fatal(
      { err: toDistkvError(err).message, dir: this.opts.dir, batches },
      'commit log sync failed again after writing acknowledged batches again behind a failed fdatasync; they may be lost at a power cut, and the log refuses every write until the worker restarts',
    );
  }

  /** seal cuts the file to `end` if it is longer (preallocated): the newest segment at close. */
  async seal(): Promise<void> {
    if (this.current.size > this.endAt) await sealAt(this.current, this.endAt);
  }
}
