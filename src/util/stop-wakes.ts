/**
 * StopWakes: the stop of the process as the long waits of one worker see it (docs/operations.md,
 * "A graceful stop"). The stop waits for every call to a worker in flight, so a wait parked on a
 * worker held it for the rest of that wait: a leader's replication pull parked for a record (up to
 * `replication.pull_wait_ms`, 1 s by default) made a node with replicas in other processes stop
 * 1117 ms where one without stopped in 23 ms; a watch feed's poll (up to 500 ms) and a RESP `WAIT`'s
 * slice (up to 1 s) did the same.
 *
 * Each such wait parks through `parked(wait)`: it resolves when `wait` does, or at once when the
 * stop begins (`end`), and a wait that starts after the stop does not park at all. What the woken
 * wait answers is its owner's to decide:
 *  - a pull (src/replication/pull-answer.ts, ended by `end-pulls` once the writes the worker's
 *    leaders accepted settled) reads the log again, so it carries every write acknowledged before
 *    the stop, and its answer closes the connection (src/http/repl-routes.ts);
 *  - a watch poll (src/watch/watch-tap.ts, ended by `end-watch` after the hub ended the streams)
 *    answers what the log holds; its stream has ended with its cursor, so it need carry nothing;
 *  - a `WAIT` slice (src/worker/replica-waits.ts, ended with the pulls) answers how many replicas
 *    hold its seq then.
 *
 * Each parked wait has its own wake-up, removed once it is woken: one promise for the stop raced
 * against every wait kept a reaction per wait ever parked (a pull a second per replica) for the
 * life of the process. Used only on the thread that owns it.
 */

/** StopWakes wakes the parked waits of one worker at the process's stop (see above). */
export class StopWakes {
  private isEnded = false;
  /** wakes are the parked waits' wake-ups, each removed once its wait is woken (by itself or the stop). */
  private readonly wakes = new Set<() => void>();

  /** ended says the stop has begun: waits do not park. */
  get ended(): boolean {
    return this.isEnded;
  }

  /** size is how many waits are parked. */
  get size(): number {
    return this.wakes.size;
  }

  /** end wakes every parked wait (`parked` resolves) and keeps later ones from parking. */
  end(): void {
    this.isEnded = true;
    for (const wake of [...this.wakes]) wake();
  }

  /** parked resolves when `wait` settles, or at once when the stop begins or has begun. */
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
