/**
 * Backoff: how a background job that keeps failing (a memtable flush, a compaction) waits before
 * its next attempt, and when it logs.
 *
 * The delay doubles after each consecutive failure, from `minMs` up to `maxMs` (capped
 * exponential; 100 ms → 30 s by default), and is reset by a success. Logging follows the state,
 * not the attempts: `failed()` reports true only for the first failure of a run of failures and
 * `succeeded()` reports true only for the success that ends one, so a job that fails 1,000 times
 * in a row logs twice (once when it starts failing, once when it recovers), whatever its retries.
 *
 * State is owned by the one store (and thread) whose job it paces.
 */

/** BACKOFF_MIN_MS is the first retry delay after a failure. */
export const BACKOFF_MIN_MS = 100;
/** BACKOFF_MAX_MS caps the retry delay. */
export const BACKOFF_MAX_MS = 30_000;

/** Backoff paces the retries of one background job. */
export class Backoff {
  private readonly minMs: number;
  private readonly maxMs: number;
  /** failures counts consecutive failures (0 while the job succeeds). */
  private failures = 0;
  /** totalFailures counts failed attempts over the job's life (for /stats and tests). */
  totalFailures = 0;
  /** lastError is the error of the current run of failures, or undefined. */
  lastError: Error | undefined;

  constructor(minMs = BACKOFF_MIN_MS, maxMs = BACKOFF_MAX_MS) {
    this.minMs = minMs;
    this.maxMs = maxMs;
  }

  /** failing reports whether the last attempt failed. */
  get failing(): boolean {
    return this.failures > 0;
  }

  /** failed records a failure; true when it starts a run of failures (log it then, and only then). */
  failed(err: Error): boolean {
    this.failures++;
    this.totalFailures++;
    this.lastError = err;
    return this.failures === 1;
  }

  /** succeeded records a success; true when it ends a run of failures (log the recovery then). */
  succeeded(): boolean {
    const recovered = this.failures > 0;
    this.failures = 0;
    this.lastError = undefined;
    return recovered;
  }

  /** delayMs is how long to wait before the next attempt: 0 while succeeding, else min·2^(n-1) capped at max. */
  delayMs(): number {
    if (this.failures === 0) return 0;
    return Math.min(this.maxMs, this.minMs * 2 ** Math.min(this.failures - 1, 30));
  }
}
