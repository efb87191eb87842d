/**
 * OverlappingSyncs: what a commit log's writer (commit-log-writer.ts) knows of the fdatasyncs
 * running at once on its segment's one file descriptor: the batches' (up to MAX_IN_FLIGHT in
 * `fsync` mode) and the writer's own (a sync of the log, one at a time). Linux reports a writeback
 * error once per open file, so of two overlapping fdatasyncs the one covering an earlier batch can
 * return 0 while the other takes the EIO about that batch's pages (docs/commit-log-format.md, "A
 * failed fdatasync beside another"). So a failure, a batch's or the writer's own, is noted as soon
 * as its fdatasync returns (no batch settles as written while one is noted), with the lowest offset
 * it may have dropped pages from; a cut answers it once every append and fdatasync in flight has
 * returned; a sync of the writer's own trusts what it covered only if no batch's fdatasync ran
 * beside it, or none that did failed; and while one runs, no batch is dropped from the kept ones
 * (commit-log-unsynced.ts) above what was durable when it was issued. Used only on the log's
 * worker thread.
 */
/** SyncsMark is taken before a sync of the writer's own; `ranAlone` checks it after. */
export interface SyncsMark {
  issued: number;
  alone: boolean;
  failures: number;
}

/** OverlappingSyncs tracks one writer's batch appends and fdatasyncs in flight and their failures. */
export class OverlappingSyncs {
  private readonly working = new Set<Promise<void>>();
  private failure: { err: unknown } | undefined;
  private atRiskFrom = Infinity;
  /** issued and running count the batches' fdatasyncs; failures counts every failure noted, latest its error. */
  private issued = 0;
  private running = 0;
  private failures = 0;
  private latest: unknown;
  /** ownFrom is how far the segment was durable when the writer's own sync running was issued (Infinity: none runs). */
  private ownFrom = Infinity;

  /** track counts `work` (a batch's append and fdatasync) in flight until `done`. */
  track(work: Promise<void>): void {
    this.working.add(work);
  }

  /** done: `work` has returned. */
  done(work: Promise<void>): void {
    this.working.delete(work);
  }

  /**
   * sync runs a batch's fdatasync `fsync`, its segment known durable up to `durableFrom` when
   * issued; a failure is noted (if `current()` says the segment is still the writer's) and thrown on.
   */
  async sync(durableFrom: number, fsync: () => Promise<void>, current: () => boolean): Promise<void> {
    this.issued++;
    this.running++;
    try {
      await this.noting(durableFrom, fsync, current);
    } finally {
      this.running--;
    }
  }

  /**
   * own runs a sync of the writer's own `fsync` (never two at once), its segment known durable up
   * to `durableFrom` when issued; a failure is noted as a batch's is, and thrown on.
   */
  async own(durableFrom: number, fsync: () => Promise<void>, current: () => boolean): Promise<void> {
    this.ownFrom = durableFrom;
    try {
      await this.noting(durableFrom, fsync, current);
    } finally {
      this.ownFrom = Infinity;
    }
  }

  /** noting runs `fsync` and notes its failure (if `current()` says the segment is still the writer's) before throwing it on. */
  private async noting(
    durableFrom: number,
    fsync: () => Promise<void>,
    current: () => boolean,
  ): Promise<void> {
    try {
      await fsync();
    } catch (err) {
      if (current()) this.note(err, durableFrom);
      throw err;
    }
  }

  private note(err: unknown, durableFrom: number): void {
    this.failure ??= { err };
    this.atRiskFrom = Math.min(this.atRiskFrom, durableFrom);
    this.failures++;
    this.latest = err ?? new Error('commit log sync failed');
  }

  /**
   * keepAbove is the offset below which a settling batch may let the kept batches go: its own sync
   * proved `durable`, unless a sync of the writer's own issued before is still running (its error
   * could be about any page past what was durable when it was issued).
   */
  keepAbove(durable: number): number {
    return Math.min(durable, this.ownFrom);
  }

  /** failed is the error of a failed fdatasync (a batch's or the writer's own) not answered yet, else undefined. */
  failed(): unknown {
    if (this.failure === undefined) return undefined;
    return this.failure.err ?? new Error('commit log sync failed');
  }

  /**
   * answer waits until every append and fdatasync in flight has returned, then forgets the noted
   * failures (the cut under way answers them) and returns the lowest offset they may have dropped
   * pages from (Infinity: none).
   */
  async answer(): Promise<number> {
    await this.quiet();
    const from = this.atRiskFrom;
    this.forget();
    return from;
  }

  /** quiet waits until every append and fdatasync of a batch in flight has returned (the noted failures stay). */
  async quiet(): Promise<void> {
    await Promise.allSettled([...this.working]);
  }

  /** forget drops the noted failures: a sync alone after writing every kept batch again answered them. */
  forget(): void {
    this.failure = undefined;
    this.atRiskFrom = Infinity;
  }

  /** mark is taken before a sync of the writer's own. */
  mark(): SyncsMark {
    return { issued: this.issued, alone: this.running === 0, failures: this.failures };
  }

  /** failedSince is the error of the latest failure noted since `m` was taken, else undefined. */
  failedSince(m: SyncsMark): unknown {
    return this.failures === m.failures ? undefined : this.latest;
  }

  /** ranAlone says no batch's fdatasync ran beside the sync `m` was taken before. */
  ranAlone(m: SyncsMark): boolean {
    return m.alone && this.issued === m.issued;
  }
}
