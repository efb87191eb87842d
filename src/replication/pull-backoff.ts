/**
 * PullBackoff: how long a follower (follower.ts) waits after a failed pull, feed or resync before
 * it tries again: capped exponential, from BACKOFF_MIN_MS doubling up to BACKOFF_MAX_MS, back to
 * the minimum after a pull that succeeds. The replica keeps serving reads meanwhile. A wait can be
 * cut short (`wake`): a follower that stops does not wait out a backoff, so a promotion never
 * waits for a dead leader. Used only on its follower's thread.
 */

const BACKOFF_MIN_MS = 50;
const BACKOFF_MAX_MS = 5000;

/** PullBackoff paces one follower's retries. */
export class PullBackoff {
  private delayMs = BACKOFF_MIN_MS;
  /** woken ends the current wait early (set only while a wait runs). */
  private woken: (() => void) | undefined;

  /** reset brings the next wait back to the minimum (a pull succeeded). */
  reset(): void {
    this.delayMs = BACKOFF_MIN_MS;
  }

  /** wait waits out the current delay (or until `wake`), then doubles it up to the cap. */
  async wait(): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.delayMs);
      this.woken = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.woken = undefined;
    this.delayMs = Math.min(BACKOFF_MAX_MS, this.delayMs * 2);
  }

  /** wake ends a wait in progress at once (none: nothing happens). */
  wake(): void {
    this.woken?.();
  }
}
