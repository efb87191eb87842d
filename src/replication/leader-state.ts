/**
 * LeaderState: what a leader store knows about its replicas — each one's ack (the seq it holds
 * durably), learnt from its pulls (`after` is the ack) or, for a replica on the same worker, from
 * its follower directly. It answers `w=N` writes (wait until N replicas acked a seq) and gives the
 * store its WAL retention hook (the lowest seq a known replica still needs).
 *
 * Honest acks (design section 6): only replicas of the shard report here (the pull route refuses
 * other ids), an ack is the replica's latest word (a replica that resynced from zero no longer
 * counts for what it held before), and an ack beyond the leader's last seq counts for nothing: that
 * replica holds another history.
 *
 * A leader that restarted may have lost records its replicas copied: with `durability = "interval"`
 * or `"none"` they are served once appended, before a sync, and a power cut takes them from the
 * leader, which goes on in the same epoch with the same seqs. So a replica's first position since
 * this state began (the leader's start or promotion, at `startSeq`) is checked: above `startSeq`, it
 * names records this leader does not hold (it assigned every later seq since, and the replica has
 * not pulled them from it), unless it is the seq of a snapshot this leader served since
 * (`servedSnapshot`: a replica rebuilt from it). `restartFork` answers that case with a fork at
 * `startSeq`, so the replica saves its records above it and resyncs instead of taking this
 * leader's records on top of its own.
 *
 * Retention also keeps the seq after each snapshot served (`servedSnapshot`, at every page) for
 * REPLICA_FORGET_MS after its last page: the replica rebuilt from it pulls from there. A replica
 * over HTTP sends no ack while it loads, and without this a snapshot that took longer to load than
 * the log kept that seq under writes was answered 410 at the first pull, and the replica resynced
 * again, each time over a larger log, never catching up.
 */

import { AckWaiters, countAtLeast } from './ack-waiters.js';

/** REPLICA_FORGET_MS: a replica that has not pulled for this long no longer holds back WAL deletion. */
export const REPLICA_FORGET_MS = 10 * 60 * 1000;

/** MAX_READING bounds the snapshots whose seq retention keeps (the newest ones). */
const MAX_READING = 64;
/**
 * MAX_SNAPSHOT_SEQS bounds the snapshot seqs remembered for restartFork (the newest ones): a leader
 * serving snapshots for weeks kept one per snapshot. A replica rebuilt from a snapshot pulls from
 * its seq at once; one whose seq was dropped (1024 newer snapshots came first) is told it forked and
 * resyncs once more.
 */
export const MAX_SNAPSHOT_SEQS = 1024;

/** LeaderState tracks the replicas of one leader store. Used only on the leader's worker thread. */
export class LeaderState {
  private readonly lastSeq: () => number;
  private readonly acks = new Map<string, { seq: number; at: number }>();
  private readonly ackSources = new Map<string, () => number>();
  private readonly waiters = new AckWaiters();
  private poll: NodeJS.Timeout | undefined;
  /** startSeq is the leader's last seq when this state began (its start or promotion). */
  private readonly startSeq: number;
  /** snapshots are the seqs of the snapshots served since, above startSeq (the newest MAX_SNAPSHOT_SEQS). */
  private readonly snapshots = new Set<number>();
  /** reading maps the seq of each snapshot served to when its last page was (retention keeps the seq after it). */
  private readonly reading = new Map<number, number>();

  /** `lastSeq` reads the leader store's last seq. */
  constructor(lastSeq: () => number) {
    this.lastSeq = lastSeq;
    this.startSeq = lastSeq();
  }

  /**
   * restartFork returns the fork seq for `replica`'s pull after `after` when its position names
   * records this leader does not hold (see above), else undefined.
   */
  restartFork(replica: string, after: number): number | undefined {
    // A ring replica (ackSources) pulls here first too (ring-source.ts): checked like the others.
    if (after <= this.startSeq || this.acks.has(replica)) return undefined;
    if (this.snapshots.has(after)) return undefined;
    return this.startSeq;
  }

  /** servedSnapshot records that a page of a snapshot at `seq` was served: a replica rebuilt from it pulls from there. */
  servedSnapshot(seq: number): void {
    if (seq > this.startSeq) {
      this.snapshots.delete(seq);
      this.snapshots.add(seq);
      for (const old of this.snapshots) {
        if (this.snapshots.size <= MAX_SNAPSHOT_SEQS) break;
        this.snapshots.delete(old);
      }
    }
    this.reading.delete(seq);
    this.reading.set(seq, Date.now());
    // Oldest first: a client reading snapshots over and over keeps the newest MAX_READING only.
    for (const old of this.reading.keys()) {
      if (this.reading.size <= MAX_READING) break;
      this.reading.delete(old);
    }
  }

  /** addAckSource registers a replica whose ack is read on demand (a ring replica publishes it in shared memory). */
  addAckSource(replica: string, read: () => number): void {
    this.ackSources.set(replica, read);
  }

  /** ack records that `replica` durably holds everything through `seq` (and nothing of ours beyond). */
  ack(replica: string, seq: number): void {
    if (seq > this.lastSeq()) {
      this.acks.delete(replica);
      return;
    }
    this.acks.set(replica, { seq, at: Date.now() });
    if (this.waiters.size > 0) this.waiters.look(this.ackedSeqs());
  }

  /** ackedAtLeast counts replicas whose ack is ≥ seq, never counting an ack beyond the leader's last seq. */
  ackedAtLeast(seq: number): number {
    return countAtLeast(this.ackedSeqs(), seq);
  }

  /**
   * ackedSeqs are the acks that count, highest first: every replica's within the leader's last
   * seq, a ring replica's once a pull of its was answered (its position is then on our history).
   */
  private ackedSeqs(): number[] {
    const last = this.lastSeq();
    const out: number[] = [];
    for (const [r, a] of this.acks) if (!this.ackSources.has(r) && a.seq <= last) out.push(a.seq);
    for (const [r, read] of this.ackSources) {
      const seq = read();
      if (this.acks.has(r) && seq <= last) out.push(seq);
    }
    return out.sort((a, b) => b - a);
  }

  /** waitForAcks resolves with the number of replicas that acked `seq`, once it reaches `n` or after `timeoutMs`. */
  waitForAcks(seq: number, n: number, timeoutMs: number): Promise<number> {
    const now = this.ackedAtLeast(seq);
    if (now >= n) return Promise.resolve(now);
    const acked = this.waiters.add(seq, n, timeoutMs, () => this.ackedAtLeast(seq));
    // Shared-memory acks change without an event: look at them every millisecond while someone waits.
    if (this.ackSources.size > 0 && this.poll === undefined) {
      this.poll = setInterval(() => {
        this.waiters.look(this.ackedSeqs());
        if (this.waiters.size === 0) {
          clearInterval(this.poll);
          this.poll = undefined;
        }
      }, 1);
    }
    return acked;
  }

  /** retainFrom is the lowest seq a replica heard from recently still needs (undefined when none). */
  retainFrom(): number | undefined {
    let min: number | undefined;
    const cutoff = Date.now() - REPLICA_FORGET_MS;
    for (const [r, a] of this.acks)
      if (!this.ackSources.has(r) && a.at >= cutoff && (min === undefined || a.seq + 1 < min))
        min = a.seq + 1;
    for (const read of this.ackSources.values()) if (min === undefined || read() + 1 < min) min = read() + 1;
    for (const [seq, at] of this.reading)
      if (at < cutoff) this.reading.delete(seq);
      else if (min === undefined || seq + 1 < min) min = seq + 1;
    return min;
  }

  /** replicas lists the known replicas and their acks. */
  replicas(): { replica: string; ack: number; lastSeenMsAgo: number }[] {
    const now = Date.now();
    return [...this.acks].map(([replica, a]) => ({ replica, ack: a.seq, lastSeenMsAgo: now - a.at }));
  }
}
