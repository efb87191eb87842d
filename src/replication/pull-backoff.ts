/**
 * PullBackoff: how long a follower (follower.ts) waits after a failed pull, feed or resync before
 * it tries again: capped exponential, from BACKOFF_MIN_MS doubling up to BACKOFF_MAX_MS, back to
 * the minimum after a pull that succeeds (at most UNMET_BACKOFF_MAX_MS while its leader never
 * answered it). The replica keeps serving reads meanwhile. A wait can be
 * cut short (`wake`): a follower that stops does not wait out a backoff, so a promotion never
 * waits for a dead leader. Used only on its follower's thread.
 */

const BACKOFF_MIN_MS = 50;
/**
 * BACKOFF_MAX_MS caps the wait: a replica retries a leader that stopped answering once a second (as
 * a Redis replica reconnects each second). At 5 s a replica took up to 5 s to find a leader back
 * from a restart (a rolling upgrade: down ~1-2 s), and `?w=1` writes timed out meanwhile; a leader
 * down for long costs a refused connection a second per replica.
 */
export const BACKOFF_MAX_MS = 1000;
/**
 * UNMET_BACKOFF_MAX_MS caps the wait of a follower whose leader has not answered it since it
 * started (the leader's node is not up yet, or answers 503 while it opens its stores, as in a
 * deploy that starts every node at once): at the full cap it found a leader that came up a few
 * seconds after it only up to 5 s later, and was `disconnected` meanwhile, so a health check run
 * as soon as every node answered /healthz failed (at 1 s, 2 runs in 25 of
 * test/e2e/cli-cluster-fresh-start.test.ts under load still did). A leader that never answers
 * costs a refused connection or a 503 five times a second.
 */
export const UNMET_BACKOFF_MAX_MS = 200;

/** PullBackoff paces one follower's retries. */
export class PullBackoff {
  private delayMs = BACKOFF_MIN_MS;
  /** woken ends the current wait early (set only while a wait runs). */
  private woken: (() => void) | undefined;

  /** reset brings the next wait back to the minimum (a pull succeeded). */
  reset(): void {
    this.delayMs = BACKOFF_MIN_MS;
  }

  /** wait waits out the current delay, at most `capMs` (or until `wake`), then doubles it up to the cap. */
  async wait(capMs = BACKOFF_MAX_MS): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, Math.min(this.delayMs, capMs));
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
