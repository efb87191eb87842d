/**
 * ReplicationHost: the replication side of one shard worker. Its leader stores are kept by
 * WorkerLeaders (worker-leaders.ts: acks, w=N waits, WAL retention, pulls, snapshot pages, the seed
 * cursor), whose answers it passes on; for each replica store it runs a Follower whose source is
 * the leader store itself when that is on this worker (LocalSource), or the leader's node over
 * HTTP otherwise (HttpSource; this covers a leader on another worker of the same process too,
 * through this process's own listener), and it turns stores over between the two roles when a
 * newer live map says so (setRole, holdFollowing).
 * A store replicates through its replication seam (Store.replication, src/storage/store-replication.ts);
 * replicas of engines without one stay empty (logged at start).
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import { DistkvError } from '../errors.js';
import type { Store, StoreEntry as ScanEntry } from '../storage/store.js';
import type { Fork, StoreSpec } from '../worker/messages.js';
import { countDiverged, removeUnfinishedSaves, saveFork, trySaveFork } from './diverged-file.js';
import { epochsOf, followsFork, ownMapFork } from './epochs.js';
import {
  FOLLOWER_STATES,
  type FollowerState,
  type Positions,
  SLOT_CAUGHT_UP_AT,
  SLOT_CONTACT_AT,
  SLOT_LAST_SEQ,
  SLOT_LEADER_SEQ,
  SLOT_LOCAL_ERROR,
  SLOT_STATE,
} from './positions.js';
import { Follower } from './follower.js';
import { followerStats } from './replica-stats.js';
import type { LeaderState } from './leader-state.js';
import type { PullAnswer } from './pull-answer.js';
import type { LadderEntry } from './record-ladder.js';
import { replicaSource } from './replica-source.js';
import type { OnPullRefused } from './source.js';
import { type HostedStore, ReplicaRebuilds, setReplicaEpoch } from './replica-rebuilds.js';
import { RESYNC_MARKER } from './resync-marker.js';
import { ResyncingStore } from './resyncing-store.js';
import { WorkerLeaders } from './worker-leaders.js';

export type { HostedStore } from './replica-rebuilds.js';

/** ReplicationHost runs leaders' bookkeeping and replicas' followers on one worker. */
export class ReplicationHost {
  private readonly stores: Map<number, HostedStore>;
  private readonly positions: Positions;
  private readonly log: Logger | undefined;
  /** leaders keeps the leader stores (worker-leaders.ts). */
  private readonly leaders: WorkerLeaders;
  private readonly followers = new Map<number, Follower>();
  /** holds are the replicas a promotion stopped following (holdFollowing), each with its time limit. */
  private readonly holds = new Map<number, NodeJS.Timeout>();
  /**
   * sharedThrough keeps, for a replica whose follower a hold stopped, the fork its follower knew
   * (Follower.sharedThrough): every renewed hold answers it, and the next follower starts with it.
   */
  private readonly sharedThrough = new Map<number, number>();
  /** heard are the replicas whose leader has answered a pull since start (until then: ownMapFork bounds their claims). */
  private readonly heard = new Set<number>();
  /** notLeading says why a store promoted in the middle of its resync leads nothing (refuseToLead), for /stats. */
  private readonly notLeading = new Map<number, string>();
  /** rebuilds keeps the stores of replicas under a resync (replica-rebuilds.ts). */
  private readonly rebuilds: ReplicaRebuilds;

  /** refused hears the refusals of the replicas' pulls by their leaders' nodes (source.ts). */
  private readonly refused: OnPullRefused | undefined;

  /**
   * `open` opens (a replica's) store afresh from its spec, as the worker does (into its commit
   * log); `refused` hears the refusals of the replicas' pulls (OnPullRefused).
   */
  constructor(
    stores: Map<number, HostedStore>,
    positions: Positions,
    log: Logger | undefined,
    open: (spec: StoreSpec) => Promise<Store>,
    refused?: OnPullRefused,
  ) {
    this.refused = refused;
    this.stores = stores;
    this.positions = positions;
    this.log = log;
    this.rebuilds = new ReplicaRebuilds(open, positions, log);
    this.leaders = new WorkerLeaders(stores, positions, log);
  }

  /** start removes the divergence saves a stopped process left unfinished, wires every leader and starts every replica's follower. */
  start(): void {
    for (const h of this.stores.values()) removeUnfinishedSaves(h.spec.dir, this.log);
    for (const [index, h] of this.stores) if (h.spec.role === 'leader') this.leaders.open(index, h);
    for (const [index, h] of this.stores)
      if (h.spec.role === 'replica') {
        setReplicaEpoch(h);
        this.startFollower(index, h);
      }
  }

  /**
   * setRole turns store `index` over to the role of `spec` (a newer live map moved its shard's
   * leader): a promoted replica stops following (its log is complete up to its ack) and starts
   * answering pulls; a demoted leader drops its leader state (pending w=N waits time out) and starts
   * following the new leader. A replica whose leader moved follows the new one. With a `fork`, a
   * replica holding records above the fork point first saves them to a divergence file beside the
   * store (docs/failover.md), then rebuilds itself from the new leader's snapshot.
   */
  async setRole(index: number, spec: StoreSpec, fork?: Fork): Promise<void> {
    const h = this.stores.get(index);
    if (h === undefined) throw new DistkvError('UNAVAILABLE', `store ${index} is not open on this worker`);
    // A leader state, not the spec, tells a store that leads now: with --inline the map's turnover
    // hands over the spec this host holds, already turned to `leader`, and a promoted replica
    // taken for a leader re-elected kept following and never counted an ack (every w=1 write 504).
    if (h.spec.role === 'leader' && spec.role === 'leader' && this.leaders.state(index) !== undefined) {
      // The same leader in a newer epoch (a coordinator re-elected it): it writes in that epoch on.
      h.spec = spec;
      if (h.store.replication !== undefined) h.store.replication.epoch = spec.epoch ?? 0;
      return;
    }
    clearTimeout(this.holds.get(index));
    this.holds.delete(index);
    this.notLeading.delete(index);
    this.heard.delete(index);
    const follower = this.followers.get(index);
    this.followers.delete(index);
    await follower?.stop();
    this.forgetContact(index);
    this.sharedThrough.delete(index);
    this.leaders.drop(index, h);
    h.spec = spec;
    if (spec.role === 'leader') {
      this.leaders.promote(index, h);
      if (h.store instanceof ResyncingStore) this.refuseToLead(index, h);
      return;
    }
    const r = h.store.replication;
    // A replica whose pull was told of this fork first (409 DIVERGED) saved its records, resynced
    // and follows the new leader by now: above the fork it holds that leader's records, which the
    // map's fork, arriving after, must neither save nor rebuild (followsFork).
    if (
      fork === undefined ||
      r === undefined ||
      r.lastSeq() <= fork.seq ||
      followsFork(epochsOf(spec), fork.epoch, r.epoch, r.lastSeq())
    ) {
      this.startFollower(index, h);
      return;
    }
    // Saved from its log, or from its keys when the log is short (awaited: a large store is read
    // in pages). Unsaved (an I/O error; thrown, it failed the map keeper's adoption of the whole
    // map), it is kept as it is.
    if (await trySaveFork(h.spec, r, fork, this.log)) this.startFollower(index, h, fork.seq);
    else this.startFollower(index, h, undefined, fork.seq);
  }

  /**
   * holdFollowing stops (on) replica store `index` following its leader and resolves with its last
   * seq, which then stays put: a promotion reads the target's position this way, so the first seq
   * it gives the new epoch follows the last record the target holds (docs/failover.md). Without a
   * role change or a release (off) within `ms`, the replica follows again by itself.
   */
  async holdFollowing(index: number, on: boolean, ms: number): Promise<number> {
    const h = this.stores.get(index);
    if (h?.spec.role !== 'replica')
      throw new DistkvError('INVALID_ARGUMENT', `store ${index} is not a replica on this worker`);
    clearTimeout(this.holds.get(index));
    this.holds.delete(index);
    if (on) {
      const follower = this.followers.get(index);
      this.followers.delete(index);
      await follower?.stop();
      // A replica that knows its records above a fork are not its leader's is ranked on the fork.
      const shared = follower?.sharedThrough() ?? Number.POSITIVE_INFINITY;
      if (Number.isFinite(shared)) this.sharedThrough.set(index, shared);
      // Its last contact stays recent for a while: without this, /stats and X-Distkv-Lag went on
      // reporting the lag it had when it stopped, as known, for pull_wait_ms + CONTACT_GRACE_MS.
      this.setFollowerState(index, 'held');
      const timer = setTimeout(() => {
        this.holds.delete(index);
        this.log?.warn(
          { shard: h.spec.shard.name, node: h.spec.node, ms },
          `store ${h.spec.shard.name} on ${h.spec.node} follows its leader again: the promotion that held it did not come within ${ms} ms`,
        );
        this.resumeFollowing(index);
      }, ms);
      timer.unref();
      this.holds.set(index, timer);
    } else this.resumeFollowing(index);
    const unheard = this.unheardBound(index, h) ?? Infinity;
    return Math.min(h.store.lastSeq(), this.sharedThrough.get(index) ?? Infinity, unheard);
  }

  /** resumeFollowing starts replica `index`'s follower again unless one runs or its role changed. */
  private resumeFollowing(index: number): void {
    const h = this.stores.get(index);
    if (h?.spec.role === 'replica' && !this.followers.has(index)) this.startFollower(index, h);
  }

  /** unheardBound is the fork replica `index`'s own map shows (ownMapFork) while its leader has not answered it since start. */
  private unheardBound(index: number, h: HostedStore): number | undefined {
    const r = h.store.replication;
    return this.heard.has(index) || r === undefined ? undefined : ownMapFork(h.spec, r.epoch, r.lastSeq());
  }

  /** refuseToLead reports (log, /stats) that store `index`, promoted in the middle of a resync, leads nothing. */
  private refuseToLead(index: number, h: HostedStore): void {
    const why = `promoted while it resyncs from a leader snapshot (unfinished): it holds part of one at most, so it leads nothing and answers UNAVAILABLE; fail the shard over to another replica (docs/failover.md)`;
    this.notLeading.set(index, why);
    this.log?.error(
      { shard: h.spec.shard.name, node: h.spec.node },
      `store ${h.spec.shard.name} on ${h.spec.node} ${why}`,
    );
  }

  /**
   * forgetContact clears what store `index`'s follower published of its leader (state, contact,
   * catch-up time, leader seq) when its role or its leader changes: a follower publishes only once
   * its first pull is answered or fails, and until then /cluster showed, for a store demoted after
   * it led, what its follower last heard before it led: `held`, and a "last contact" seconds old
   * from another leader (test/unit/replica-contact-after-role.test.ts). Its ack (SLOT_LAST_SEQ,
   * its leader's last seq while it leads) stays.
   */
  private forgetContact(index: number): void {
    this.setFollowerState(index, 'starting');
    this.positions.set(index, SLOT_CONTACT_AT, 0);
    this.positions.set(index, SLOT_CAUGHT_UP_AT, 0);
    this.positions.set(index, SLOT_LEADER_SEQ, 0);
    this.positions.set(index, SLOT_LOCAL_ERROR, 0);
  }

  /** setFollowerState publishes replica `index`'s state while no follower of its own does. */
  private setFollowerState(index: number, state: FollowerState): void {
    this.positions.set(index, SLOT_STATE, FOLLOWER_STATES.indexOf(state));
  }

  /**
   * startFollower starts replica `index`'s follower; with `forked`, its records above that seq are
   * not its leader's: it resyncs first. With `unsaved`, they are not either but could not be saved:
   * it does not resync, and acks at most that seq.
   */
  private startFollower(index: number, h: HostedStore, forked?: number, unsaved?: number): void {
    const r = h.spec.replication;
    if (r === undefined) return;
    // Until the new follower's first word, it is starting (not held, nor what an earlier one said).
    this.setFollowerState(index, 'starting');
    const marker = join(h.spec.dir, RESYNC_MARKER);
    const bounds = [forked, unsaved, this.sharedThrough.get(index)].filter((b) => b !== undefined);
    this.sharedThrough.delete(index);
    const heldThrough = bounds.length === 0 ? undefined : Math.min(...bounds);
    const untilContact = this.unheardBound(index, h);
    // What the worker published at open (its last seq) until the leader first answers.
    const opened = this.positions.get(index, SLOT_LAST_SEQ);
    if (untilContact !== undefined && untilContact < opened)
      this.positions.set(index, SLOT_LAST_SEQ, untilContact);
    // A replica under a resync (or over one that never finished) resyncs first (replica-rebuilds.ts).
    const aside = this.rebuilds.setAside(index, h, marker);
    if (h.store.replication === undefined && !aside) {
      this.log?.warn(
        { shard: h.spec.shard.name, engine: h.store.engine },
        `replicas follow their leader through a store's replication seam; the ${h.store.engine} engine has none, so this one stays empty`,
      );
      return;
    }
    const leaderHere = r.leaderStore === undefined ? undefined : this.stores.get(r.leaderStore);
    const leaderIndex = r.leaderStore;
    const source = replicaSource(
      h.spec,
      r,
      this.positions,
      leaderHere === undefined || leaderIndex === undefined
        ? undefined
        : { replication: () => leaderHere.store.replication, epochs: () => this.leaders.epochs(leaderIndex) },
      this.refused,
    );
    // Read at each publish: a role change turns stores over one by one, and a replica started
    // before its leader store was promoted found no leader state to tell (it was never counted).
    const localLeader = (): LeaderState | undefined =>
      leaderHere === undefined || leaderIndex === undefined ? undefined : this.leaders.state(leaderIndex);
    const log = this.log?.child({ shard: h.spec.shard.name, role: 'replica', node: h.spec.node });
    const follower = new Follower({
      source,
      store: () => {
        const replica = h.store.replication;
        if (replica === undefined) throw new DistkvError('UNAVAILABLE', 'replica store is not open');
        return replica;
      },
      rebuild: () => this.rebuilds.rebuild(index, h),
      reopen: () => this.rebuilds.reopen(index, h),
      epochs: () => epochsOf(h.spec),
      diverged: async ({ fork, epoch }) => {
        const replica = h.store.replication;
        // The file names the epoch that forked: the leader's. The replica's own map may lag it (it
        // learns of the new epoch from this very answer); it is the best guess only when the
        // source did not say (a leader that sends no X-Distkv-Epoch). The follower awaits the save.
        if (replica !== undefined)
          await saveFork(h.spec, replica, fork, epoch ?? h.spec.epoch ?? 0, this.log);
      },
      publish: (p) => {
        this.positions.publishFollower(index, p);
        if (p.contactAt > 0) this.heard.add(index);
        localLeader()?.ack(h.spec.node, p.ack);
      },
      pullMaxBytes: r.pullMaxBytes,
      pullWaitMs: r.pullWaitMs,
      ...(untilContact === undefined ? {} : { untilContact }),
      resyncMarker: marker,
      dir: h.spec.dir,
      resyncFirst: forked !== undefined || aside,
      ...(heldThrough === undefined ? {} : { heldThrough }),
      ...(log === undefined ? {} : { log }),
    });
    this.followers.set(index, follower);
    follower.start();
  }

  /**
   * pull answers a replica's pull for leader store `store` (pull-answer.ts); `after` is the replica's
   * ack, `epoch` the epoch of its record there, `history` its history id (history-check.ts) and
   * `ladder` the crcs of some of its records (record-ladder.ts).
   * `replica` must be a configured replica of the shard (the HTTP route checks it against the topology).
   */
  pull(
    store: number,
    after: number,
    maxBytes: number,
    waitMs: number,
    replica: string,
    epoch = 0,
    history?: string,
    ladder?: readonly LadderEntry[],
  ): Promise<PullAnswer> {
    return this.leaders.pull(store, after, maxBytes, waitMs, replica, epoch, history, ladder);
  }

  /**
   * endPulls answers every parked pull at once with what its leader's log holds, and every later
   * pull without waiting, each saying the leader is stopping (src/util/stop-wakes.ts). The worker calls it at
   * the process's stop once the writes its leaders accepted settled, so those answers carry them.
   */
  endPulls(): void {
    this.leaders.endPulls();
  }

  /**
   * snapshotPage returns the snapshot seq (fixed by the first page) and the entries after `after`:
   * up to `page.limit`, ending after the one that brings their bytes to `page.maxBytes` (Store.scan),
   * and the leader's history id.
   */
  snapshotPage(
    store: number,
    after: Uint8Array | null,
    page: { limit: number; maxBytes: number },
    seq: number | null,
  ): { seq: number; entries: ScanEntry[]; history: string | undefined } {
    return this.leaders.snapshotPage(store, after, page, seq);
  }

  /** seedNext returns the next change for the seed's replication protocol across `stores` (leader indexes, shard order). */
  seedNext(stores: readonly number[]): { key: string; value: string } | undefined {
    return this.leaders.seedNext(stores);
  }

  /** seedAck acknowledges (key, value) on whichever of `stores` offers it next; returns whether one did. */
  seedAck(stores: readonly number[], key: string, value: string): boolean {
    return this.leaders.seedAck(stores, key, value);
  }

  /** waitForAcks resolves with how many replicas of leader `store` hold `seq`, once `n` do or after `timeoutMs`. */
  waitForAcks(store: number, seq: number, n: number, timeoutMs: number): Promise<number> {
    return this.leaders.waitForAcks(store, seq, n, timeoutMs);
  }

  /** statsOf adds replication fields to a store's stats (its history id among them, once it has one). */
  statsOf(index: number): Record<string, number | string | object> {
    const history = this.stores.get(index)?.store.replication?.history;
    const diverged = {
      ...countDiverged(this.stores.get(index)?.spec.dir),
      ...(history === undefined ? {} : { history }),
    };
    const f = this.followers.get(index);
    const spec = this.stores.get(index)?.spec.replication;
    if (f !== undefined && spec !== undefined)
      return { ...followerStats(f, this.positions, index, spec.pullWaitMs, spec.leaderStore), ...diverged };
    const l = this.leaders.state(index);
    const refused = this.notLeading.get(index);
    if (refused !== undefined) return { leaderError: refused, ...diverged };
    return l === undefined ? diverged : { replicas: l.replicas(), ...diverged };
  }

  /** stop stops every follower and closes the stores of unfinished resyncs (the worker closes the others). */
  async stop(): Promise<void> {
    for (const timer of this.holds.values()) clearTimeout(timer);
    this.holds.clear();
    await Promise.all([...this.followers.values()].map((f) => f.stop()));
    await this.rebuilds.close();
  }
}
