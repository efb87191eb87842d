/**
 * WatchEnd: the stop of the process as the watch polls of one worker see it (docs/watch.md,
 * "Slow watchers"; docs/operations.md, "A graceful stop"). A feed's poll (`watch-polls`, `watch-read`
 * with a wait: src/watch/watch-tap.ts) parks on its stores' logs for up to FEED_WAIT_MS (feed.ts)
 * until a record comes. The stop waits for every call to a worker in flight, so a node with a
 * watcher took up to one such wait longer to stop than one without, after the hub had ended the
 * streams (watch-hub.ts `end`).
 *
 * At the stop the hub ends every stream with `resume` (reason `draining`) and stops the feeds, then
 * sends `end-watch` to every worker: `end()` wakes every parked poll, which is answered at once
 * with what the log holds (read as always: durable records only), and later polls do not park.
 * Nothing waits for those answers but the stop: their streams have ended, each with its cursor.
 *
 * The same idea as a leader's parked replication pulls (src/replication/pull-end.ts), without
 * their settling of accepted writes first: a watcher resumes from its cursor, so a poll's answer
 * need not carry anything.
 */

/** WatchEnd ends the parked watch polls of one worker (see above). Used only on the worker's thread. */
export class WatchEnd {
  private isEnded = false;
  /** wakes are the parked polls' wake-ups, each removed once its poll is woken (by its wait or the end). */
  private readonly wakes = new Set<() => void>();

  /** ended says the stop has begun: polls do not park. */
  get ended(): boolean {
    return this.isEnded;
  }

  /** size is how many polls are parked. */
  get size(): number {
    return this.wakes.size;
  }

  /** end wakes every parked poll (`parked` resolves) and keeps later ones from parking. */
  end(): void {
    this.isEnded = true;
    for (const wake of [...this.wakes]) wake();
  }

  /** parked resolves with `wait` (a log wait, or a race of several), or at once when the stop begins or has begun. */
  parked(wait: Promise<unknown>): Promise<void> {
    if (this.isEnded) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        this.wakes.delete(wake);
        resolve();
      };
      this.wakes.add(wake);
      wait.then(wake, wake);
    });
  }
}
