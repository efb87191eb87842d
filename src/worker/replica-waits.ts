/**
 * ReplicaWaits: OP_WAIT on a shard worker (the slices of a RESP WAIT, src/resp/commands-keyspace.ts
 * `waitAcks`): how many replicas of a leader store hold a seq, answered once `w` of them do or
 * after `timeoutMs`, as a `w` write's wait is.
 *
 * At the process's stop (`end`, with `end-pulls`: replication-messages.ts) every parked wait is
 * answered at once with the replicas that hold its seq then, and a later one without waiting: the
 * replicas in other processes pull no more once their parked pulls are answered
 * (src/replication/pull-end.ts), and the stop waits for every op in flight, so a client blocked in
 * WAIT held it for the rest of its slice (up to 1 s), where an idle connection held it 100 ms.
 *
 * Owned by one shard worker thread.
 */
import type { ReplicationHost } from '../replication/replication-host.js';
import { ST_DONE } from './op-format.js';
import type { ReplyBatch } from './reply-batch.js';

/** ReplicaWaits answers a worker's OP_WAITs (see above). */
export class ReplicaWaits {
  private readonly replies: ReplyBatch;
  private readonly replication: () => ReplicationHost;
  private ended = false;
  /** wakes are the parked waits' wake-ups, each removed once its wait is answered. */
  private readonly wakes = new Set<() => void>();

  /** `replication` returns the worker's ReplicationHost, or throws UNAVAILABLE when it is not running. */
  constructor(replies: ReplyBatch, replication: () => ReplicationHost) {
    this.replies = replies;
    this.replication = replication;
  }

  /** size is how many waits are parked. */
  get size(): number {
    return this.wakes.size;
  }

  /** wait answers op `id`: how many replicas of store `index` hold `seq`, once `w` do, after `timeoutMs`, or at the stop. */
  wait(id: number, index: number, seq: number, w: number, timeoutMs: number): void {
    const replication = this.replication();
    const now = (): Promise<number> => replication.waitForAcks(index, seq, 0, 0);
    const acked = this.ended
      ? now()
      : new Promise<number>((resolve) => {
          const wake = (): void => {
            this.wakes.delete(wake);
            resolve(now());
          };
          this.wakes.add(wake);
          void replication.waitForAcks(index, seq, w, timeoutMs).then((n) => {
            if (this.wakes.delete(wake)) resolve(n);
          });
        });
    void acked.then((n) => {
      this.replies.add(id, ST_DONE, n, undefined);
      this.replies.flushSoon();
    });
  }

  /** end answers every parked wait now and keeps later ones from waiting: the process stops. */
  end(): void {
    this.ended = true;
    for (const wake of [...this.wakes]) wake();
  }
}
