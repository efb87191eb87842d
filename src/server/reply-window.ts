/**
 * The pipeline window of a front-door connection (HTTP and RESP): how many requests it may have
 * executed and not yet answered before it stops executing the ones its client sent after them.
 *
 * Why a window in requests that follows bytes: a request's answer is built (a worker copies the
 * value to the main thread) as soon as it is executed, whether or not its client reads, so what a
 * connection holds is what it executed and could not send. The size of an answer is known only once
 * it is built, so the window is a count fitted to the answers seen: about `budgetBytes` of them at
 * the mean size of the last batch written. It starts at `initial` (a client's first burst is
 * assumed large), at most doubles per batch and never leaves `min..max`; `max` is what bounds the
 * overshoot of a burst of large answers that follows small ones (one window of them). So pipelining
 * small values keeps a window of hundreds of requests while large values get a few.
 */

/** WINDOW_BYTES is about how many answer bytes a window lets be unanswered at once. */
export const WINDOW_BYTES = 4 * 1024 * 1024;
/** INITIAL_WINDOW is a connection's window before any answer was sized. */
export const INITIAL_WINDOW = 4;
/** WINDOW_CAP_BYTES bounds a window times the largest answer (a burst of large values after small ones). */
export const WINDOW_CAP_BYTES = 64 * 1024 * 1024;

/** ReplyWindow is one connection's window; `size` is read before executing each request. */
export class ReplyWindow {
  /** size is how many requests may be executed and unanswered (min..max). */
  size: number;
  private readonly budgetBytes: number;
  private readonly min: number;
  private readonly max: number;

  constructor(budgetBytes: number, min: number, max: number, initial: number) {
    this.budgetBytes = budgetBytes;
    this.min = min;
    this.max = Math.max(min, max);
    this.size = Math.max(this.min, Math.min(this.max, initial));
  }

  /** fit sets the window from a batch of `replies` answers that took `bytes` (at most doubling it). */
  fit(bytes: number, replies: number): void {
    if (replies === 0) return;
    const fit = bytes <= 0 ? this.max : Math.floor((this.budgetBytes * replies) / bytes);
    this.size = Math.max(this.min, Math.min(this.max, this.size * 2, fit));
  }
}

/** maxWindowFor is the largest window whose answers of `maxReplyBytes` each stay within `capBytes` (at least `min`). */
export function maxWindowFor(capBytes: number, maxReplyBytes: number, min: number, max: number): number {
  return Math.max(min, Math.min(max, Math.floor(capBytes / Math.max(1, maxReplyBytes))));
}

/**
 * frontDoorWindow is a front-door connection's window (HTTP and RESP): about WINDOW_BYTES of
 * answers, starting at INITIAL_WINDOW, at most `maxCount` requests and at most WINDOW_CAP_BYTES of
 * answers of `maxReplyBytes` each (0: their size is not known, no such bound).
 */
export function frontDoorWindow(maxReplyBytes: number, maxCount: number): ReplyWindow {
  const max = maxReplyBytes > 0 ? maxWindowFor(WINDOW_CAP_BYTES, maxReplyBytes, 1, maxCount) : maxCount;
  return new ReplyWindow(WINDOW_BYTES, 1, max, INITIAL_WINDOW);
}
