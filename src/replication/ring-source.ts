/**
 * RingSource: a replica whose leader is on another worker of this process reads the leader's
 * batches from their SharedArrayBuffer ring (ring.ts), waiting with Atomics.waitAsync. When the
 * ring does not continue where the replica's ack is (it was lapped, or the replica started behind),
 * it catches up through `fallback` (HTTP pulls from the leader's WAL) and rejoins the ring once the
 * ring's batches follow on; so it does when the replica asks again for records the ring already
 * handed out (applying them failed: a disk error on the replica's side). Snapshots also come from
 * `fallback`. Ring batches carry no epoch: a
 * ring runs only from the leader planned at start to its replica in this process, whose spec names
 * the shard's epochs; the batch's epoch is read from them (epochs.ts).
 */
import { epochOfSeq } from '../routing/version.js';
import type { ShardEpochs } from './epochs.js';
import type { RingConsumer, RingEntry } from './ring.js';
import type {
  Pulled,
  PullOptions,
  PullResult,
  ReplicationSource,
  RingCounters,
  SnapshotStream,
} from './source.js';

/** RingSource reads a ring, with a fallback source for catch-up and snapshots. */
export class RingSource implements ReplicationSource {
  readonly describe: string;
  private readonly ring: RingConsumer;
  private readonly fallback: ReplicationSource;
  private readonly leaderSeq: () => number;
  private readonly epochs: () => ShardEpochs;
  /** stash holds batches taken from the ring that are ahead of the replica (used once it catches up). */
  private stash: RingEntry[] = [];
  /**
   * lapMark: the ring may be missing batches after this seq (it is 0 at start: the replica may be
   * behind anything the ring will bring). Past it, an empty ring means "ask the leader's log";
   * +Infinity once the ring is known to continue where the replica is.
   */
  private lapMark = 0;
  /**
   * checkedGen is the ring's producer generation (ring-format.ts, GEN) in which a pull through
   * `fallback` was answered: until then no ring batch is taken, so the leader checks the replica's
   * position first (its restart fork) and counts its shared ack only after that.
   */
  private checkedGen = -1;
  /**
   * handed is the last seq handed out from the ring: a replica that asks again from below it
   * (applying them failed) reads them from the leader's log, whatever the leader has published.
   */
  private handed = 0;
  /** leaderHistory is the leader's history id, as its last answer over the fallback named it. */
  private leaderHistory: string | undefined;
  /** closed is set by close: a pull no longer waits on the ring. */
  private closed = false;
  /** counters for /stats and /metrics (the replica's follower reports them: replica-stats.ts). */
  readonly counters: RingCounters = { ringBatches: 0, fallbackPulls: 0 };

  /**
   * `leaderSeq` reads the leader's last acknowledged seq (published in shared memory by the leader's
   * worker after the batch went into the ring); `epochs` reads the shard's epochs.
   */
  constructor(
    ring: RingConsumer,
    fallback: ReplicationSource,
    describe: string,
    leaderSeq: () => number,
    epochs: () => ShardEpochs = () => ({ epoch: 0, history: [] }),
  ) {
    this.ring = ring;
    this.fallback = fallback;
    this.describe = describe;
    this.leaderSeq = leaderSeq;
    this.epochs = epochs;
  }

  async pull(
    after: number,
    maxBytes: number,
    waitMs: number,
    options: PullOptions = {},
  ): Promise<PullResult> {
    for (let attempt = 0; attempt < 2; attempt++) {
      // Read before taking: every batch through this seq is then in the ring, taken, or marked lapped.
      // (A replica may be ahead of it: batches enter the ring before the seq is published. Not of
      // the leader store's own last seq, which its pulls to `fallback` are checked against:
      // ring-format.ts, "Publish order".)
      const leaderSeq = this.leaderSeq();
      const seen = this.ring.wakeValue();
      const lapped = this.ring.takeLapped();
      this.stash.push(...this.ring.take(maxBytes));
      // After taking: a producer bumps GEN before it publishes, so every batch taken is of this
      // generation or an older one. Read before, a producer started in between (the leader's worker
      // restarted) had its batches taken as checked, and its new leader state, which had not heard
      // from the replica, answered the next pull with a fork: a divergence file and a resync for nothing.
      const gen = this.ring.generation();
      const checked = gen === this.checkedGen;
      // Batches were dropped after everything the ring holds now: the gap starts after lapMark.
      if (lapped) this.lapMark = this.stash[this.stash.length - 1]?.lastSeq ?? after;
      this.stash = this.stash.filter((e) => e.lastSeq > after);
      const first = this.stash[0];
      if (checked && first !== undefined && first.firstSeq <= after + 1) {
        if (after >= this.lapMark) this.lapMark = Number.POSITIVE_INFINITY;
        return this.fromStash(after, maxBytes, leaderSeq);
      }
      if (
        !checked ||
        first !== undefined ||
        after >= this.lapMark ||
        leaderSeq > after ||
        this.handed > after
      ) {
        // A gap before the ring's next batch, past where the ring lost batches, or records the
        // leader holds that the ring handed out before (an apply of them failed, and the replica
        // asks again from its ack; the leader may not have published their seq yet): read the
        // leader's log.
        this.counters.fallbackPulls++;
        // The replica's epoch, history id and ladder go with it: its first position is checked there
        // (history-check.ts, record-ladder.ts).
        const r = await this.fallback.pull(after, maxBytes, 0, options);
        // A fork goes back as the leader answered it (with its epoch: the divergence file names it).
        if (typeof r === 'string' || 'fork' in r) return r;
        // The leader's history id, which the ring's batches do not carry: every answer names it, so
        // the replica takes it (history-check.ts adoptHistory) though it follows through the ring.
        this.leaderHistory = r.history ?? this.leaderHistory;
        this.checkedGen = gen;
        if (r.records.length === 0) this.lapMark = Number.POSITIVE_INFINITY;
        if (r.records.length > 0 || first !== undefined) return r;
      }
      if (attempt === 0 && waitMs > 0 && !this.closed) await this.ring.wait(seen, waitMs);
    }
    return {
      records: Buffer.alloc(0),
      leaderSeq: this.leaderSeq(),
      epoch: this.epochs().epoch,
      ...this.historyOf(),
    };
  }

  /** historyOf is the leader's history id as its last answer over the fallback named it, for an answer from the ring. */
  private historyOf(): { history?: string } {
    return this.leaderHistory === undefined ? {} : { history: this.leaderHistory };
  }

  private fromStash(after: number, maxBytes: number, leaderSeq: number): Pulled {
    const parts: Buffer[] = [];
    let bytes = 0;
    let last = after;
    const e = this.epochs();
    const recordsEpoch = epochOfSeq(e.history, after + 1);
    // A batch holds one epoch's records: it stops where the next epoch starts.
    while (
      this.stash.length > 0 &&
      bytes < maxBytes &&
      this.stash[0]!.firstSeq <= last + 1 &&
      (last === after || epochOfSeq(e.history, last + 1) === recordsEpoch)
    ) {
      const e = this.stash.shift()!;
      const records = skipThrough(e, last);
      parts.push(records);
      bytes += records.length;
      last = e.lastSeq;
      this.counters.ringBatches++;
    }
    this.handed = Math.max(this.handed, last);
    return {
      records: parts.length === 1 ? parts[0]! : Buffer.concat(parts, bytes),
      leaderSeq: Math.max(leaderSeq, last),
      epoch: e.epoch,
      recordsEpoch,
      ...this.historyOf(),
    };
  }

  snapshot(): Promise<SnapshotStream> {
    return this.fallback.snapshot();
  }

  /**
   * close ends a pull in progress: its fallback's request, and a wait on the ring (up to
   * `pull_wait_ms`, which a promotion holding this replica, or a stopping worker, waited out).
   */
  close(): Promise<void> {
    this.closed = true;
    this.ring.interrupt();
    return this.fallback.close();
  }
}

/** skipThrough returns the records of `e` with seq > `after` (they are WAL-framed: len at offset 4). */
function skipThrough(e: RingEntry, after: number): Buffer {
  let offset = 0;
  for (let seq = e.firstSeq; seq <= after; seq++) offset += e.records.readUInt32LE(offset + 4) + 8;
  return offset === 0 ? e.records : e.records.subarray(offset);
}
