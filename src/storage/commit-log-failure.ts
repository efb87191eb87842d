/**
 * The refusal a worker's commit log answers with after a failure (commit-log-writer.ts;
 * docs/commit-log-format.md, "Writing"). A batch whose append or sync fails is refused with
 * DISK_FULL (507), with every batch appended after it and every write queued behind them in any
 * store; new writes are then refused with the same error for RETRY_MS, after which the next batch
 * is tried normally. A failed periodic sync (`interval` mode) refuses new writes the same way.
 * Each failed batch starts a new generation: a batch taken in an older one settles as refused.
 */
import { DistkvError, toDistkvError } from '../errors.js';

/** RETRY_MS is how long writes are refused after a failed batch before the next try. */
export const RETRY_MS = 500;

/** LogFailure is a commit log's latest failure. Used only on the log's worker thread. */
export class LogFailure {
  private gen = 0;
  private failure: DistkvError | undefined;
  private failedAt = 0;
  /** broken: a sync failed again after the unsynced batches were written again; every write is refused for good. */
  private broken: DistkvError | undefined;

  /** generation changes at every failed batch: batches of an older generation were refused with it. */
  get generation(): number {
    return this.gen;
  }

  /** refusal returns the error new writes get while a failure is recent, else undefined. */
  refusal(): DistkvError | undefined {
    if (this.broken !== undefined) return this.broken;
    if (this.failure !== undefined && Date.now() - this.failedAt < RETRY_MS) return this.failure;
    return undefined;
  }

  /**
   * failing is the failure no batch has been written since (the log broken for good, or the latest
   * failed batch), whether or not writes are refused at this moment (`refusal`); undefined once a
   * batch was written. What /cluster shows of the worker's stores (worker-stores.ts).
   */
  failing(): DistkvError | undefined {
    return this.broken ?? this.failure;
  }

  /** latest is what a batch of an older generation is refused with: the latest failure's refusal. */
  latest(): DistkvError {
    return this.broken ?? this.failure ?? new DistkvError('DISK_FULL', 'commit log write failed');
  }

  /** clear: a batch was written, the failure is over. */
  clear(): void {
    this.failure = undefined;
  }

  /** batchFailed starts a new generation for a batch that failed with `err`; returns the refusal of it and of everything behind it. */
  batchFailed(err: unknown): DistkvError {
    const refusal = new DistkvError(
      'DISK_FULL',
      `commit log write failed (${toDistkvError(err).message}); writes are refused until the disk accepts them again`,
      { cause: err },
    );
    this.failure = refusal;
    this.failedAt = Date.now();
    this.gen++;
    return refusal;
  }

  /** broke refuses every write from now on: a sync failed twice, acknowledged writes may be lost (batches already written still settle). */
  broke(err: unknown): void {
    this.broken = new DistkvError(
      'COMMIT_LOG_BROKEN',
      `commit log sync failed twice (${toDistkvError(err).message}); acknowledged writes may not be durable, so this worker refuses every write until it restarts`,
      { cause: err },
    );
  }

  /** syncFailed refuses new writes for RETRY_MS after a periodic sync failed with `err`. */
  syncFailed(err: unknown): void {
    this.failure = new DistkvError(
      'DISK_FULL',
      `periodic commit log sync failed: ${toDistkvError(err).message}`,
    );
    this.failedAt = Date.now();
  }
}
