/**
 * OverlappingSyncs: what a commit log's writer (commit-log-writer.ts) knows of the batches'
 * fdatasyncs running at once on its segment's one file descriptor (up to MAX_IN_FLIGHT in `fsync`
 * mode). Linux reports a writeback error once per open file, so of two overlapping fdatasyncs the
 * one covering an earlier batch can return 0 while the other takes the EIO about that batch's
 * pages (docs/commit-log-format.md, "A failed fdatasync beside another"). So a failure is noted as
 * soon as its fdatasync returns (no batch settles as written while one is noted), with the lowest
 * offset it may have dropped pages from; a cut answers it once every append and fdatasync in
 * flight has returned; and a sync of the writer's own (syncNow) trusts what it covered only if no
 * batch's fdatasync ran beside it. Used only on the log's worker thread.
 */
/** SyncsMark is taken before a sync of the writer's own; `ranAlone` checks it after. */
export interface SyncsMark {
  issued: number;
  alone: boolean;
}

/** OverlappingSyncs tracks one writer's batch appends and fdatasyncs in flight and their failures. */
export class OverlappingSyncs {
  private readonly working = new Set<Promise<void>>();
  private failure: { err: unknown } | undefined;
  private atRiskFrom = Infinity;
  private issued = 0;
  private running = 0;

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
      await fsync();
    } catch (err) {
      if (current()) {
        this.failure ??= { err };
        this.atRiskFrom = Math.min(this.atRiskFrom, durableFrom);
      }
      throw err;
    } finally {
      this.running--;
    }
  }

  /** failed is the error of a batch's failed fdatasync no cut has answered yet, else undefined. */
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
    await Promise.allSettled([...this.working]);
    const from = this.atRiskFrom;
    this.failure = undefined;
    this.atRiskFrom = Infinity;
    return from;
  }

  /** mark is taken before a sync of the writer's own. */
  mark(): SyncsMark {
    return { issued: this.issued, alone: this.running === 0 };
  }

  /** ranAlone says no batch's fdatasync ran beside the sync `m` was taken before. */
  ranAlone(m: SyncsMark): boolean {
    return m.alone && this.issued === m.issued;
  }
}
