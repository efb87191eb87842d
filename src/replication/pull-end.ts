/**
 * PullEnd: the stop of a leader's process as the pulls of its worker see it (docs/operations.md,
 * "A graceful stop"). A pull that finds nothing after its replica's ack parks for up to its
 * `wait_ms` (`replication.pull_wait_ms`, 1 s by default) until a record comes; the stop waits for
 * every request in flight, so a node whose replicas in other processes had pulls parked took one
 * long poll longer to stop than one without (1117 ms against 23 ms in a 3-node run).
 *
 * At the stop, once the worker's writes accepted before it settled (ReplicationHost.endPulls: a
 * write is in its store's log once written, before it is acknowledged), `end()` wakes every parked
 * pull: it reads the log again and is answered at once with what it holds, so it carries every
 * write the leader acknowledged. Pulls that come later do not park. Their answers say `stopping`,
 * and the HTTP route closes the connection after them (repl-routes.ts): the replica's next pull
 * opens a new one, to the next owner of the shard or refused by the stopped listener, rather than
 * asking again and again on a connection answered at once.
 *
 * With a coordinator the stop first hands its shards over (src/server/drain-handover.ts): the
 * pulls that bring a replica the last seq are served as always, and only the pull parked after
 * them is woken, once the handover is done.
 */

/** PullEnd ends the long polls of one worker's leaders (see above). Used only on the worker's thread. */
export class PullEnd {
  private isEnded = false;
  /**
   * wakes are the parked pulls' wake-ups, each removed once its pull is woken: a wait shared by
   * every pull (one promise raced against each log wait) kept a reaction per pull ever parked, a
   * pull a second per replica for the life of the process.
   */
  private readonly wakes = new Set<() => void>();

  /** ended says the stop has begun: pulls do not park, and their answers close the connection. */
  get ended(): boolean {
    return this.isEnded;
  }

  /** size is how many pulls are parked. */
  get size(): number {
    return this.wakes.size;
  }

  /** end wakes every parked pull (`parked` resolves) and keeps later ones from parking. */
  end(): void {
    this.isEnded = true;
    for (const wake of [...this.wakes]) wake();
  }

  /** parked resolves with `wait` (a log wait), or at once when the stop begins or has begun. */
  parked(wait: Promise<void>): Promise<void> {
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
