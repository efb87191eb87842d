/**
 * Follower: keeps one replica store a converging copy of its leader (docs/architecture.md, "Replication").
 *
 * Loop: pull the leader's records after the replica's ack (long poll), apply them with the
 * leader's seqs into the replica's own WAL and memtable (durably), publish the new ack, repeat.
 * A source that can feed the replica directly (a leader on the same commit log: LocalSource.follow)
 * does so while it can; the follower then only publishes what the feed applied.
 * When the leader no longer retains the ack's successor (410 / 'gone'), or the ack is beyond the
 * leader's last seq (409 REPLICA_AHEAD / 'diverged': the replica holds another history, e.g. writes
 * its leader lost in a crash), or its log took a batch its store could not apply (mustRebuild),
 * the replica resyncs: its store is wiped, refilled from a leader
 * snapshot at seq S straight into LMDB, reopened so its log continues at S + 1, and pulling resumes
 * from S. An unreachable leader is retried with capped exponential backoff while the replica keeps
 * serving reads (pull-backoff.ts); state changes are logged once each (follower-state-log.ts).
 *
 * A snapshot is fuzzy (snapshot-format.ts): until the replica has replayed the log through the
 * snapshot's exactSeq its content may mix states, so it stays `resyncing` (no freshness claimed)
 * until then. That seq is kept in `resyncMarker` (a file), so a replica restarted in between knows
 * (resync-exactness.ts). The marker is written (durably) before the resync wipes the store too,
 * saying a load is under way, and the wipe spares it (resync-marker.ts): a replica that stops from
 * then on (kill -9, power loss) holds part of a snapshot, or only what its log still held of it,
 * over a seq that does not describe it, so it starts again with a resync, never serving or
 * extending that part as if it were the leader's state at its seq.
 *
 * Epochs (src/replication/epochs.ts): a pull names the epoch of the replica's last record; a
 * leader whose history left the replica's there answers DIVERGED with the fork seq, and the replica
 * saves its records above the fork (`diverged`, a divergence file) before it resyncs. A batch from a
 * leader whose epoch is older than the one the replica knows for the shard (`epochs`, re-read before
 * every batch) is refused, never applied: that leader was deposed. Applied records are logged in the
 * epoch they came with. A pull names the replica's history id too; it takes its leader's from an
 * answer while it has none or holds nothing (history-check.ts). The first pull after a start or a
 * failure also carries a record ladder (record-ladder.ts), answered with a fork the same way.
 *
 * Freshness (freshness.ts, lag.ts): each answer of the leader carries its last seq L, read as it
 * answered; the follower remembers (time of the answer, L) and, once its ack reaches L, knows that
 * at that time it held everything the leader had. `caughtUpAt` is the latest such time.
 */
import type { Logger } from 'pino';
import { DistkvError } from '../errors.js';
import { Freshness } from './freshness.js';
import { adoptHistory } from './history-check.js';
import { checkBatchSeqs } from './batch-check.js';
import { FollowerStateLog } from './follower-state-log.js';
import { LocalDiskError, localFailureOf } from './local-failure.js';
import { PullBackoff, UNMET_BACKOFF_MAX_MS } from './pull-backoff.js';
import { ResyncExactness } from './resync-exactness.js';
import { loadSnapshot } from './snapshot-load.js';
import type { StoreReplication } from '../storage/store-replication.js';
import type { ShardEpochs } from './epochs.js';
import type { FollowerState } from './positions.js';
import { buildLadder } from './record-ladder.js';
import type { Diverged, PullOptions, ReplicationSource, RingCounters } from './source.js';

/** FollowerOptions configure a follower. */
export interface FollowerOptions {
  source: ReplicationSource;
  /** store returns the replica store's replication seam (it changes after a resync). */
  store: () => StoreReplication;
  /** rebuild closes the replica store, wipes its directory but `resyncMarker` and opens an empty store there (not yet serving). */
  rebuild: () => Promise<StoreReplication>;
  /** reopen closes and reopens the replica store (after a snapshot, so its log continues after the snapshot seq). */
  reopen: () => Promise<StoreReplication>;
  /** epochs reads what the replica knows of its shard's epochs (absent: epoch 0, never refuses a batch). */
  epochs?: () => ShardEpochs;
  /**
   * diverged saves the replica's records above the fork (a divergence file named with the epoch the
   * leader answered in, when the source knows it) before it resyncs, and logs the fork.
   */
  diverged?: (fork: Diverged) => void | Promise<void>;
  /** publish reports the follower's position after every pull, failure and state change. */
  publish: (p: FollowerPosition) => void;
  pullMaxBytes: number;
  pullWaitMs: number;
  /** resyncFirst rebuilds the store from a leader snapshot before the first pull (its log forked from the leader's). */
  resyncFirst?: boolean;
  /** heldThrough is the fork seq when the replica's records above it are known not to be the leader's (see `ackBound`). */
  heldThrough?: number;
  /**
   * untilContact caps the ack published outside a pull until the leader first answers one: the
   * fork the replica's own map shows below its last record (epochs.ts, ownMapFork). Before that
   * answer it cannot know whether it forked, and its last seq ranked it for a promotion.
   */
  untilContact?: number;
  /** resyncMarker is the file that keeps a resync's exactSeq until the replica reaches it (in the replica's directory). */
  resyncMarker?: string;
  /** dir is the replica store's directory: a failure of its disk names it (local-failure.ts). */
  dir?: string;
  log?: Logger;
}

/** FollowerPosition is what a follower publishes (times in ms since the epoch; 0 = never). */
export interface FollowerPosition {
  /** ack is the replica's durable seq. */
  ack: number;
  /** leaderSeq is the leader's last seq as last seen. */
  leaderSeq: number;
  state: FollowerState;
  /** contactAt is when the leader last answered. */
  contactAt: number;
  /** caughtUpAt is the latest time at which the replica provably held all the leader had. */
  caughtUpAt: number;
  /** localError is the code of this replica's own disk's failure that stopped it following (local-failure.ts), until a resync or a pull succeeds. */
  localError: string | undefined;
}

/** Follower runs the replication loop of one replica store. */
export class Follower {
  private readonly o: FollowerOptions;
  private state: FollowerState = 'starting';
  private stopped = false;
  private running: Promise<void> | undefined;
  /** backoff paces the retries after a failure; stop() cuts its wait short. */
  private readonly backoff = new PullBackoff();
  private leaderSeq = 0;
  private lastError = '';
  /** localError: the code of the own-disk failure that last stopped it following (undefined once a resync or a pull succeeds; kept while a resync is tried again). */
  private localError: string | undefined;
  private contactAt = 0;
  /** freshness proves how recent the replica is (caughtUpAt). */
  private readonly freshness = new Freshness();
  /** exactness is how far a fuzzy snapshot must be caught up on, and its marker (resync-exactness.ts). */
  private readonly exactness: ResyncExactness;
  /** answered says the last pull was answered (pullWait); false at the start and after a failure. */
  private answered = false;
  /** closing says the last answer closed its connection (Pulled.closing): the next pull carries a ladder. */
  private closing = false;
  /** published is the last ack published. */
  private published = 0;
  /**
   * ackBound caps the ack published while the replica is known to hold records off its leader's
   * history, until a resync rebuilds it: the fork seq (a DIVERGED answer, a map's fork), or 0 (a
   * replica ahead of its leader). Its last seq, published, counted for `w=N` at a leader on its
   * worker (LeaderState.ack, or a ring replica's shared position) and ranked it for a promotion.
   */
  private ackBound: number;
  /** counters for /stats. */
  readonly counters = { batches: 0, records: 0, resyncs: 0, errors: 0, staleBatches: 0 };
  private readonly stateLog: FollowerStateLog;

  constructor(o: FollowerOptions) {
    this.o = o;
    this.stateLog = new FollowerStateLog(o.log, o.source.describe);
    this.exactness = new ResyncExactness(o.resyncMarker);
    this.ackBound = o.heldThrough ?? Number.POSITIVE_INFINITY;
  }

  /** current reports the state and the leader's last seq as last seen. */
  current(): { state: FollowerState; leaderSeq: number; lastError: string } {
    return { state: this.state, leaderSeq: this.leaderSeq, lastError: this.lastError };
  }

  /** sourceCounters are its source's own counters (a ring's), undefined for a transport that keeps none. */
  sourceCounters(): Readonly<RingCounters> | undefined {
    return this.o.source.counters;
  }

  /** sharedThrough is the highest seq the replica may claim to share with its leader now (`ackBound`; +Infinity: its last seq). */
  sharedThrough(): number {
    return this.ackBound;
  }

  start(): void {
    this.running ??= this.loop();
  }

  /**
   * stop ends the loop; closing the source first aborts a pull in flight (a paused leader never
   * answers it), and a backoff wait is cut short, so a promotion never waits for a dead leader.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.setState('stopped');
    this.backoff.wake();
    await this.o.source.close();
    await this.running;
  }

  private async loop(): Promise<void> {
    let mustResync = this.o.resyncFirst === true || this.exactness.interrupted;
    while (!this.stopped) {
      try {
        // A resync that fails is tried again (after the backoff): once it has wiped the store,
        // the replica has nothing to pull onto until a load finishes.
        if (mustResync) {
          await this.resync();
          mustResync = false;
          continue;
        }
        const store = this.o.store();
        const ack = store.lastSeq();
        const epoch = store.epoch;
        if (this.exactness.exact) {
          const fed = await this.fedFrom(store, ack, epoch);
          if (fed === 'failed') mustResync = true;
          if (fed !== 'not-fed') continue;
        }
        const { pullMaxBytes } = this.o;
        const options = this.pullOptions(store, ack, epoch);
        const pulled = await this.o.source.pull(ack, pullMaxBytes, this.pullWait(), options);
        if (this.isStopped()) return;
        if (typeof pulled === 'object' && 'fork' in pulled) {
          this.ackBound = Math.min(this.ackBound, pulled.fork);
          // The fork is logged once: by the save (it names the file and the record count), or
          // here when nothing saves (test/unit/diverged-log-once.test.ts).
          if (this.o.diverged === undefined)
            this.o.log?.warn(
              { source: this.o.source.describe, ack, epoch, fork: pulled.fork, leaderEpoch: pulled.epoch },
              `the leader's history left this replica's at seq ${pulled.fork} (409 DIVERGED): resyncing`,
            );
          else {
            // A save that reads the store's keys (its log was short) yields between pages.
            await this.o.diverged(pulled);
            if (this.isStopped()) return;
          }
          this.forgetLeader();
          mustResync = true;
          continue;
        }
        if (typeof pulled === 'string') {
          if (pulled === 'diverged') {
            this.o.log?.warn(
              { source: this.o.source.describe, ack },
              'replica is ahead of its leader (it holds writes the leader does not have); resyncing',
            );
            this.ackBound = 0;
          }
          this.forgetLeader();
          mustResync = true;
          continue;
        }
        const known = this.o.epochs?.().epoch ?? 0;
        if (pulled.epoch !== undefined && pulled.epoch < known) {
          this.counters.staleBatches++;
          this.o.log?.warn(
            { source: this.o.source.describe, ack, leaderEpoch: pulled.epoch, known },
            `refused a batch from a leader in epoch ${pulled.epoch}: the shard is in epoch ${known} (that leader was deposed)`,
          );
          throw new DistkvError(
            'STALE_LEADER',
            `${this.o.source.describe} leads in epoch ${pulled.epoch}, older than the shard's epoch ${known}`,
          );
        }
        adoptHistory(store, pulled.history, ack);
        this.closing = pulled.closing === true;
        this.contactAt = Date.now();
        if (Number.isFinite(pulled.leaderSeq)) {
          this.leaderSeq = pulled.leaderSeq;
          this.freshness.sight(this.contactAt, pulled.leaderSeq);
        }
        let applied = ack;
        if (pulled.records.length > 0) {
          // A batch read from a log of this process (`checked`) is this process's own; any other
          // comes from a peer that may be broken or hostile (batch-check.ts).
          if (pulled.checked !== true) checkBatchSeqs(pulled.records, ack, this.o.source.describe);
          applied = await this.o
            .store()
            .applyReplicated(pulled.records, pulled.recordsEpoch, pulled.checked === true);
          this.counters.batches++;
          this.counters.records += applied - ack;
          this.leaderSeq = Math.max(this.leaderSeq, applied);
        }
        if (!this.exactness.reached(applied)) this.setState('resyncing');
        else {
          this.freshness.reached(applied);
          this.setState(applied < this.leaderSeq ? 'catching-up' : 'streaming');
        }
        this.localError = undefined;
        this.publish(applied);
        this.answered = true;
        this.backoff.reset();
      } catch (thrown) {
        if (this.isStopped()) return;
        this.counters.errors++;
        // This replica's own disk (applying, loading, saving), not its leader: said so (local-failure.ts).
        const err = (await localFailureOf(thrown, this.o.dir)) ?? thrown;
        if (this.isStopped()) return;
        this.lastError = (err as Error).message;
        // A failed resync (mustResync still set) waits out the backoff like any other failure.
        if (!mustResync && this.mustRebuild()) {
          this.o.log?.error(
            { source: this.o.source.describe, ack: this.safeAck(), err: this.lastError },
            'replica: applying a pulled batch failed after its log took it; resyncing from a leader snapshot',
          );
          mustResync = true;
          continue;
        }
        this.answered = false;
        // /cluster says it as the replica's own disk's failure, not a lost leader (lag.ts). A later
        // failure of another kind (its leader gone) leaves the code: the disk is no less full, and
        // the replica showed `disconnected` as if nothing else were wrong. A pull applied or a
        // resync loaded clears it.
        if (err instanceof LocalDiskError) this.localError = err.code;
        this.setState('disconnected', err);
        this.publish(this.safeAck());
        await this.backoff.wait(this.contactAt === 0 ? UNMET_BACKOFF_MAX_MS : undefined);
      }
    }
  }

  /**
   * fedFrom lets the source feed the replica directly while it can (ReplicationSource.follow), and
   * says whether it did; then the loop goes on pulling from the ack the feed left. A feed that
   * ended with an error failed to apply records its replica's log already holds: the replica
   * cannot pull them again on top of that log, so it resyncs ('failed').
   */
  private async fedFrom(
    store: StoreReplication,
    ack: number,
    epoch: number,
  ): Promise<'not-fed' | 'ended' | 'failed'> {
    const feed = this.o.source.follow?.({
      replica: store,
      after: ack,
      epoch,
      known: this.o.epochs?.().epoch ?? 0,
      waitMs: this.o.pullWaitMs,
      fed: (applied, leaderSeq) => {
        this.fed(applied, leaderSeq);
      },
    });
    if (feed === undefined) return 'not-fed';
    const ended = await feed.ended;
    if (ended === undefined || this.isStopped()) return 'ended';
    this.counters.errors++;
    const failure = (await localFailureOf(ended, this.o.dir)) ?? ended;
    this.lastError = failure.message;
    this.o.log?.error(
      { source: this.o.source.describe, ack: store.lastSeq(), err: failure.message },
      'replica: applying a fed batch failed after its log took it; resyncing from a leader snapshot',
    );
    return 'failed';
  }

  /** fed records a batch the source fed (or its word that none came): as a pull that got it, without the wait. */
  private fed(applied: number, leaderSeq: number): void {
    if (this.isStopped()) return;
    this.contactAt = Date.now();
    if (applied > this.published) {
      this.counters.batches++;
      this.counters.records += applied - this.published;
    }
    this.leaderSeq = Math.max(leaderSeq, applied);
    this.freshness.answered(this.contactAt, this.leaderSeq, applied);
    this.setState(applied < this.leaderSeq ? 'catching-up' : 'streaming');
    this.localError = undefined;
    this.publish(applied);
  }

  /**
   * pullWait is the wait of the next pull: none until a pull of this follower has been answered
   * since it started or last failed, so it learns at once that its leader answers and follows
   * (a long poll on a shard without writes held it `starting`, lag unknown, for `pull_wait_ms`,
   * and `distkv cluster` run right after a start said it did not follow); then `pull_wait_ms`.
   */
  private pullWait(): number {
    return this.answered ? this.o.pullWaitMs : 0;
  }

  /**
   * pullOptions names the replica's epoch and history id and, on its first pull since it started,
   * last failed or was answered by a stopping leader (a leader's restart breaks the connection;
   * `closing`: the next pull may reach its next run at once), the crcs of some of its records: a
   * leader put back from an older copy of itself holds other records at those seqs (record-ladder.ts).
   */
  private pullOptions(store: StoreReplication, ack: number, epoch: number): PullOptions {
    const ladder = this.answered && !this.closing ? undefined : buildLadder(store, ack);
    return {
      epoch,
      ...(store.history === undefined ? {} : { history: store.history }),
      ...(ladder === undefined ? {} : { ladder }),
    };
  }

  /** forgetLeader drops what the follower knew of its leader's history (it is resyncing to another one). */
  private forgetLeader(): void {
    this.freshness.forget();
    this.leaderSeq = 0;
  }

  private publish(ack: number): void {
    this.published = ack;
    this.o.publish({
      ack,
      leaderSeq: this.leaderSeq,
      state: this.state,
      contactAt: this.contactAt,
      caughtUpAt: this.freshness.caughtUpAt,
      localError: this.localError,
    });
  }

  /** isStopped reads the flag through a call: stop() flips it while the loop awaits. */
  private isStopped(): boolean {
    return this.stopped;
  }

  private async resync(): Promise<void> {
    this.setState('resyncing');
    this.counters.resyncs++;
    this.publish(this.safeAck());
    const snapshot = await this.o.source.snapshot();
    // The rebuild wipes what the ack covered: until the load is done the replica acks nothing, so
    // a failover that ranks replicas by their acks never takes a wiped one for the most advanced.
    this.publish(0);
    const done = await loadSnapshot(snapshot, { ...this.o, stopped: () => this.isStopped() });
    this.exactness.resynced(done);
    this.ackBound = Number.POSITIVE_INFINITY;
    this.o.log?.info(
      {
        source: this.o.source.describe,
        seq: snapshot.seq,
        epoch: done.store.epoch,
        exactSeq: done.exactSeq,
        keys: done.keys,
        ...(done.outside > 0 ? { outside: done.outside } : {}),
      },
      'replica rebuilt from a leader snapshot; pulling the log from its seq (exact from exactSeq on)',
    );
    // Its disk took the whole snapshot: no longer `disk-failed` (lag.ts), its ack still the 0 of the load.
    if (this.localError !== undefined) {
      this.localError = undefined;
      this.publish(this.published);
    }
  }

  /**
   * mustRebuild says the replica's log holds records its store lacks (StoreReplication.mustRebuild):
   * it cannot pull on top of that log, so it resyncs. It used to retry the pull for good, each
   * refused as out of order, the replica frozen at the record before the one that failed.
   */
  private mustRebuild(): boolean {
    try {
      return this.o.store().mustRebuild?.() === true;
    } catch {
      return false;
    }
  }

  /** safeAck is the ack the replica can publish outside a pull: its last seq, within `ackBound`; 0 while it has no store. */
  private safeAck(): number {
    try {
      const bound = this.contactAt === 0 ? (this.o.untilContact ?? Infinity) : Infinity;
      return Math.min(this.o.store().lastSeq(), this.ackBound, bound);
    } catch {
      return 0;
    }
  }

  /** setState moves the follower to `next`; `cause` is the error that moved it, if any (its log reads a refusal's status and code). */
  private setState(next: FollowerState, cause?: unknown): void {
    // A pull or apply that was in flight when stop() ran must not bring the state back.
    if (this.state === 'stopped') return;
    if (next === this.state) {
      // A leader that came up and refuses the pulls: the state stays, the log says it.
      if (next === 'disconnected' && cause !== undefined) this.stateLog.failedAgain(cause);
      return;
    }
    const prev = this.state;
    this.state = next;
    this.stateLog.changed(prev, next, cause);
  }
}
