/**
 * ReplicaWaits: OP_WAIT on a shard worker (the slices of a RESP WAIT, src/resp/commands-wait.ts
 * `waitAcks`): how many replicas of a leader store hold a seq, answered once `w` of them do or
 * after `timeoutMs`, as a `w` write's wait is.
 *
 * The `w=N` writes and reads wait here too (`acks`, for store-writes.ts): a write answered only once
 * N replicas hold it.
 *
 * At the process's stop (`end`, with `end-pulls`: replication-messages.ts) every parked wait is
 * answered at once with the replicas that hold its seq then, and a later one without waiting: the
 * replicas in other processes pull no more once their parked pulls are answered
 * (src/util/stop-wakes.ts), and the stop waits for every op in flight, so a client blocked in
 * WAIT held it for the rest of its slice (up to 1 s), where an idle connection held it 100 ms; a
 * `PUT ?w=1` whose replica did not answer held it for the drain limit (3 s, the rest of its
 * `timeout_ms` being longer), and was then cut off. Such a write is now answered at once, as one
 * whose replicas did not acknowledge it in time (store-writes.ts).
 *
 * Owned by one shard worker thread.
 */
import type { ReplicationHost } from '../replication/replication-host.js';
import { StopWakes } from '../util/stop-wakes.js';
import { ST_DONE } from './op-format.js';
import type { ReplyBatch } from './reply-batch.js';

/** Acks are what a wait for replicas found: how many hold its seq, and whether the stop cut it short. */
export interface Acks {
  acked: number;
  /** stopped: the process's stop answered the wait (or it began after the stop) before `w` replicas held the seq. */
  stopped: boolean;
}

/** ReplicaWaits answers a worker's OP_WAITs and the replica waits of its `w=N` ops (see above). */
export class ReplicaWaits {
  private readonly replies: ReplyBatch;
  private readonly replication: () => ReplicationHost;
  /** stop wakes the parked waits at the process's stop (src/util/stop-wakes.ts). */
  private readonly stop = new StopWakes();

  /** `replication` returns the worker's ReplicationHost, or throws UNAVAILABLE when it is not running. */
  constructor(replies: ReplyBatch, replication: () => ReplicationHost) {
    this.replies = replies;
    this.replication = replication;
  }

  /** size is how many waits are parked. */
  get size(): number {
    return this.stop.size;
  }

  /** wait answers op `id`: how many replicas of store `index` hold `seq`, once `w` do, after `timeoutMs`, or at the stop. */
  wait(id: number, index: number, seq: number, w: number, timeoutMs: number): void {
    void this.acks(index, seq, w, timeoutMs).then(({ acked }) => {
      this.replies.add(id, ST_DONE, acked, undefined);
      this.replies.flushSoon();
    });
  }

  /**
   * acks resolves with how many replicas of store `index` hold `seq`: once `w` do, after
   * `timeoutMs`, or at once at the stop. Throws UNAVAILABLE when replication is not running.
   */
  acks(index: number, seq: number, w: number, timeoutMs: number): Promise<Acks> {
    const replication = this.replication();
    const now = (): Promise<Acks> =>
      replication.waitForAcks(index, seq, 0, 0).then((acked) => ({ acked, stopped: acked < w }));
    if (this.stop.ended) return now();
    const waited = replication.waitForAcks(index, seq, w, timeoutMs);
    // Woken by the stop, it answers how many hold the seq then; else what its wait found.
    return this.stop
      .parked(waited)
      .then(() => (this.stop.ended ? now() : waited.then((acked) => ({ acked, stopped: false }))));
  }

  /** end answers every parked wait now and keeps later ones from waiting: the process stops. */
  end(): void {
    this.stop.end();
  }
}
