/**
 * EtcdCoordinator: automatic failover with etcd (docs/failover.md, "Automatic failover with etcd").
 *
 * Its keys in etcd (the live map, a leader key per shard, each member's published seq) are laid out
 * in etcd-keyspace.ts. This file is the loop; each concept it runs has its own file: the lease
 * (process-lease.ts, lease-deadline.ts), the leader keys held and `mayWrite` (leader-keys.ts), the
 * published seqs (seq-publisher.ts), etcd's map against this node's (map-sync.ts), the replicas held
 * while a key is missing (follow-holds.ts), what a reconcile does for each shard (shard-step.ts):
 * keep, take or let go of its leader key, the campaign (campaign.ts, campaign-gate.ts,
 * candidate-rank.ts), a promotion through etcd (self-promotion.ts), and a leader held behind its
 * replica giving up its key (behind-resign.ts); and the worker fences (worker-fences.ts).
 *
 * One lease per process, kept alive every TTL/4 by its own keepalives. A leader store may take writes
 * only while this process holds its shard's leader key AND its own lease deadline (lease-deadline.ts:
 * last successful keepalive's send time + TTL - drift margin) has not passed: the deadline comes
 * before etcd can expire the key, so before any other node can win it (`mayWrite`, checked by the
 * main thread on every write; the store's worker is fenced too once the loop sees the deadline).
 *
 * Every TTL/4 (and at once on a change of the map or of a leader key, through a watch) the loop
 * reads the prefix and reconciles: it adopts a newer map from etcd (etcd wins over peer gossip),
 * holds its replicas of each shard whose leader key is missing (follow-holds.ts), publishes its
 * stores' seqs (a held replica's as its hold answered), (re)takes the leader key of each shard the map says it leads, and for
 * each shard it replicates whose leader key is gone, campaigns if it ranks first (candidate-rank.ts).
 * The winner's epoch is its key's create revision, a fencing token no earlier leader can hold; it
 * stops its store following, publishes map version+1 naming it leader in that epoch with
 * `firstSeq = the store's last seq + 1`, then promotes itself through the map keeper like any
 * adopted map. A former leader learns the map from etcd before it serves again (`start`) and
 * rejoins as a replica (fork point, divergence file).
 *
 * A leader whose last run stopped uncleanly in a lossy durability mode (src/server/run-marker.ts)
 * owes its shards a new epoch (src/server/restart-epochs.ts): when it takes (or finds it holds) the
 * leader key of a shard it owes one, it publishes its own promotion the same way, its store held at
 * its recovered last seq, before it takes a write (self-promotion.ts).
 *
 * A node whose peers name another etcd cluster than its own takes no part unless its etcd cluster
 * has a strict majority of the config's nodes (etcd-cluster-check.ts, etcd-cluster-guard.ts): no
 * map written, no campaign, no leader key counted (so no writes). The first reconcile asks the peers
 * once this node's etcd cluster id is known, before any campaign.
 */
import { type Etcd3, EtcdLeaseInvalidError, type IKeyValue, type Watcher } from 'etcd3';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { DistkvError } from '../errors.js';
import type { LiveMap } from '../routing/live-map.js';
import type { MapKeeper } from '../server/map-keeper.js';
import type { NodePlan } from '../server/node-plan.js';
import type { WorkerPool } from '../server/worker-pool.js';
import { OtherConfigPeers } from './config-peers.js';
import { CampaignGate } from './campaign-gate.js';
import { etcdClient } from './etcd-client.js';
import type { EtcdIdentity, EtcdSplit } from './etcd-cluster-check.js';
import { EtcdClusterGuard, type PeerOfCoordinator } from './etcd-cluster-guard.js';
import { CALL_TIMEOUT_MS, EtcdKeyspace, type Snapshot } from './etcd-keyspace.js';
import { FollowHolds } from './follow-holds.js';
import { LeaderKeys } from './leader-keys.js';
import { mapSync, misfitMessage } from './map-sync.js';
import { ProcessLease } from './process-lease.js';
import { SeqPublisher } from './seq-publisher.js';
import type { RepeatLog } from '../util/repeat-log.js';
import { settledWithin, within } from '../util/within.js';
import { etcdErrorText, heldBack } from './etcd-error-text.js';
import { etcdFailureLog } from './etcd-failure-log.js';
import { createdWatch, Phase, startTries } from './start-steps.js';
import { ShardSteps } from './shard-step.js';
import { awaitSuccessors } from './successor-wait.js';
import { WorkerFences } from './worker-fences.js';

/** CoordinatedKeeper is what the coordinator asks of the node's map keeper (tests give a twin of it). */
export type CoordinatedKeeper = Pick<MapKeeper, 'current' | 'offer' | 'holds' | 'behindOf'> &
  Partial<Pick<MapKeeper, 'removedLeaders'>>;

/** STEP_CALLS is a start step's bound in etcd call deadlines (or a tick and a deadline, if longer; start-steps.ts). */
const STEP_CALLS = 4;
/** HOLD_TTLS bounds, in lease TTLs, how long a campaign holds its store's following (it resumes by itself after). */
const HOLD_TTLS = 10;
/** WATCH_CANCEL_MS bounds how long `stop` waits for etcd to answer the watch's cancel. */
const WATCH_CANCEL_MS = 1000;
/**
 * SUCCESSOR_WAIT_TTLS and SUCCESSOR_WAIT_CAP_MS bound a stop's wait for etcd to name its shards' new
 * leaders (successor-wait.ts): 3 lease TTLs, at most 3 s. The handover counts a replica as caught up
 * on its last ack, which a replica stopped just before still shows: nothing campaigns then, and with
 * a 20 s TTL the stop waited a minute (a test's SIGKILL after 8 s made it an unclean stop).
 */
const SUCCESSOR_WAIT_TTLS = 3;
const SUCCESSOR_WAIT_CAP_MS = 3000;

/** EtcdCoordinator runs this process's side of leader election; see the design block above. */
export class EtcdCoordinator {
  private readonly etcd: Etcd3;
  private readonly keys: EtcdKeyspace;
  private readonly ttlMs: number;
  private readonly lease: ProcessLease;
  /** leaders are the leader keys this process holds, each under the lease it took it with. */
  private readonly leaders: LeaderKeys;
  /** fences hold, at their worker, the leader stores this process may not write for now. */
  private readonly fences: WorkerFences;
  private readonly seqs: SeqPublisher;
  /** gate tells when a replica may campaign for a shard whose leader key is missing. */
  private readonly gate: CampaignGate;
  /** holds stop the replicas of a shard whose leader key is missing following (follow-holds.ts). */
  private readonly holds: FollowHolds;
  private readonly tickMs: number;
  /** stepMs bounds each step of the start (start-steps.ts). */
  private readonly stepMs: number;
  /** phase is the part of the reconcile running now, named when a start step's bound expires. */
  private readonly phase = new Phase();
  private watcher: Watcher | undefined;
  private timers: NodeJS.Timeout[] = [];
  private ticking: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  /** started: the first reconcile is done; a key of this node's under a lease not this process's is then a twin's. */
  private started = false;
  private lastError = '';
  /** otherConfigs are the peers that last answered routing with another config (config-peers.ts). */
  private readonly otherConfigs: OtherConfigPeers;
  /** steps reconcile each shard's leader key, promotion and campaign (shard-step.ts). */
  private readonly steps: ShardSteps;
  /** hosted are this process's node addresses. */
  private readonly hosted: ReadonlySet<string>;
  /** etcdClusters compares this node's etcd cluster with its peers' (etcd-cluster-guard.ts). */
  private readonly etcdClusters: EtcdClusterGuard;
  /**
   * leaseFailures and reconcileFailures tell of the lease's renewals and of the reconciles, once
   * started, failing tick after tick (etcd down): a line as they start failing, a reminder every
   * 30 s, a line once they work again (etcd-failure-log.ts), not one per tick.
   */
  private readonly leaseFailures: RepeatLog;
  private readonly reconcileFailures: RepeatLog;

  private readonly config: Config;
  private readonly keeper: CoordinatedKeeper;
  private readonly log: Logger;

  constructor(
    config: Config,
    keeper: CoordinatedKeeper,
    plan: NodePlan,
    pool: WorkerPool,
    log: Logger,
    clusterName: string,
    peers: () => readonly PeerOfCoordinator[] = () => [],
    askPeers: () => Promise<void> = () => Promise.resolve(),
  ) {
    this.otherConfigs = new OtherConfigPeers(peers);
    this.hosted = new Set(plan.listeners.map((l) => l.address));
    this.etcdClusters = new EtcdClusterGuard(
      config.coordination.etcd,
      plan.listeners.map((l) => l.address),
      peers,
      askPeers,
      log,
      config.coordination.lease_ttl_ms,
    );
    this.config = config;
    this.keeper = keeper;
    this.log = log;
    this.ttlMs = config.coordination.lease_ttl_ms;
    this.tickMs = Math.max(50, Math.floor(this.ttlMs / 4));
    // Longer than a lease grant's deadline (a tick, process-lease.ts), so the grant's own error is the cause.
    this.stepMs = Math.max(STEP_CALLS * CALL_TIMEOUT_MS, this.tickMs + CALL_TIMEOUT_MS);
    // Its breaker lets a call through again after a tick, not etcd3's 5 s (etcd-client.ts).
    this.etcd = etcdClient({
      hosts: config.coordination.etcd,
      dialTimeoutMs: CALL_TIMEOUT_MS,
      retryMs: this.tickMs,
      watchMaxRetryMs: this.ttlMs,
    });
    this.leaseFailures = etcdFailureLog(log, config.coordination.etcd, this.tickMs, 'lease');
    this.reconcileFailures = etcdFailureLog(log, config.coordination.etcd, this.tickMs, 'reconcile');
    this.lease = new ProcessLease(
      this.etcd,
      config.coordination.lease_ttl_ms,
      log,
      () => {
        this.leaders.forgetAll();
        this.kick();
      },
      (m, held) => {
        // While starting, a failed grant is the cause its try's warning names (start-steps.ts).
        // A call held back brings no cause of its own, once a run of failures has named one.
        if (this.started) this.leaseFailures.failed(held && this.leaseFailures.failing ? undefined : m);
        else this.lastError = m;
      },
      () => {
        // A new lease reconciles at once (its seqs go out); the first one's start reconciles itself.
        if (this.started) this.kick();
      },
      () => {
        this.leaseFailures.succeeded();
      },
    );
    this.keys = new EtcdKeyspace(this.etcd, clusterName, config.shards);
    this.leaders = new LeaderKeys(this.keys, this.lease, log);
    this.gate = new CampaignGate(this.ttlMs, this.tickMs, () => {
      this.kick();
    });
    this.fences = new WorkerFences(plan, pool);
    this.holds = new FollowHolds(plan, pool, keeper.holds, HOLD_TTLS * this.ttlMs, (m) => {
      this.warnOnce(m);
    });
    this.seqs = new SeqPublisher(this.keys, plan, pool, this.holds);
    this.steps = new ShardSteps({
      keys: this.keys,
      lease: this.lease,
      leaders: this.leaders,
      gate: this.gate,
      seqs: this.seqs,
      holds: this.holds,
      keeper,
      plan,
      pool,
      log,
      ttlMs: this.ttlMs,
      holdMs: HOLD_TTLS * this.ttlMs,
      otherConfig: (address) => this.otherConfigs.has(address),
      started: () => this.started,
      warn: (m, level) => {
        this.warnOnce(m, level);
      },
    });
  }

  /** mayWrite tells whether this process may execute writes to shard `idx` as its leader now. */
  mayWrite(idx: number): boolean {
    return this.leaders.mayWrite(idx);
  }

  /** etcdCluster is the etcd cluster this process talks to (undefined until its first read) and how its peers' compare. */
  etcdCluster(): { identity: EtcdIdentity | undefined; split: EtcdSplit } {
    return this.etcdClusters.view();
  }

  /** handsOver tells whether shard `idx`'s leader here, held behind a replica, gave up its leader key (behind-resign.ts). */
  handsOver(idx: number): boolean {
    return this.steps.handsOver(idx);
  }

  /**
   * start takes a lease, adopts etcd's map and takes the leader keys this process is due, before
   * the node serves; then keeps doing so. Each step is bounded and a failed try is logged at once
   * (start-steps.ts); it throws when no try succeeded. `lossy`: the last
   * run stopped uncleanly in a lossy durability mode, and every shard led here starts a new epoch.
   */
  async start(lossy = false): Promise<void> {
    if (lossy) this.steps.oweNewEpochs();
    const keeper = setInterval(() => void this.lease.keepalive(), this.tickMs);
    keeper.unref();
    this.timers.push(keeper);
    const tries = {
      endpoints: this.config.coordination.etcd,
      pauseMs: this.tickMs,
      log: this.log,
      failed: (err: unknown) => {
        // A lease that expired while the process was starting (a loaded machine): take a new one.
        if (err instanceof EtcdLeaseInvalidError) this.lease.drop();
      },
      stopped: () => this.stopped,
    };
    // A reconcile that outlived its bound runs on: the next try waits for it (bounded) first, so
    // two never run at once.
    let reconciling: Promise<unknown> | undefined;
    await startTries(tries, async () => {
      if (reconciling !== undefined)
        await within(`the reconcile of an earlier try`, this.stepMs, reconciling, () => this.at());
      await within('taking a lease (etcd lease grant or keepalive)', this.stepMs, this.lease.keepalive());
      if (this.lease.id === undefined) throw new Error(this.lastError);
      const run = this.tick();
      reconciling = run.catch(() => undefined);
      await within(`reading the map under ${this.keys.prefix} and reconciling`, this.stepMs, run, () =>
        this.at(),
      );
      this.started = true;
      this.watcher ??= await createdWatch(this.etcd, this.keys.prefix, this.stepMs);
    });
    const ticker = setInterval(() => {
      this.kick();
    }, this.tickMs);
    ticker.unref();
    this.timers.push(ticker);
    const onChange = (kv: IKeyValue): void => {
      if (!kv.key.toString().startsWith(`${this.keys.prefix}seq/`)) this.kick();
    };
    this.watcher?.on('put', onChange).on('delete', onChange);
    this.watcher?.on('error', (err) => {
      this.log.debug({ err: err.message }, 'etcd watch error');
    });
  }

  /** at names the part of the reconcile running now, for a start step's bound. */
  private at(): string {
    return this.phase.now === '' ? '' : `at: ${this.phase.now}`;
  }

  /**
   * stop ends the loop and revokes the lease, so the leader keys go at once (a replica takes over),
   * then waits (SUCCESSOR_WAIT_TTLS, SUCCESSOR_WAIT_CAP_MS at most) for etcd to name the new
   * leaders of `handedOver` (the shards a replica elsewhere caught up with) and adopts that map
   * (successor-wait.ts).
   */
  async stop(handedOver: readonly string[] = []): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.gate.close();
    await this.ticking;
    // A paused etcd never answers the watch's cancel (etcd3 gives it no deadline): go on without it.
    if (!(await settledWithin(this.watcher?.cancel(), WATCH_CANCEL_MS)))
      this.log.debug(
        `etcd did not answer the watch's cancel within ${WATCH_CANCEL_MS} ms; stopping without it`,
      );
    this.leaders.forgetAll();
    await this.lease.revoke();
    const bound = Math.min(SUCCESSOR_WAIT_TTLS * this.ttlMs, SUCCESSOR_WAIT_CAP_MS);
    const named = await awaitSuccessors(() => this.keys.read(), this.hosted, handedOver, bound, this.log);
    if (named !== undefined) await this.keeper.offer(named, 'etcd').catch(() => undefined);
    this.etcd.close();
  }

  /**
   * publish writes `map` to etcd when it is newer than etcd's (compare-and-swap) and resolves with
   * the map etcd holds afterwards: `map`, or the one another change stored first at that version or
   * above (so every node adopts the same map). It throws when etcd's map is older yet changed
   * meanwhile (MAP_CHANGED), CONFIG_MISMATCH when etcd's map does not fit this node's config, and
   * UNAVAILABLE, in the etcd client's failure said for an operator, when etcd does not answer.
   */
  async publish(map: LiveMap): Promise<LiveMap> {
    try {
      return await this.publishNow(map);
    } catch (err) {
      if (err instanceof DistkvError) throw err;
      throw new DistkvError(
        'UNAVAILABLE',
        `the live map was not published to etcd (${etcdErrorText(err)}): with [coordination] a failover needs etcd, forced or not; start etcd or check coordination.etcd (${this.config.coordination.etcd.join(', ')}), then run it again`,
      );
    }
  }

  /** publishNow is `publish`, its etcd client's failures passed as they are. */
  private async publishNow(map: LiveMap): Promise<LiveMap> {
    const snap = await this.keys.read();
    const misfit = this.misfit(snap);
    if (misfit !== undefined) throw new DistkvError('CONFIG_MISMATCH', misfit);
    const aside = this.etcdClusters.refusal();
    if (aside !== undefined) throw new DistkvError('CONFIG_MISMATCH', aside);
    const theirs = snap.map?.live;
    if (theirs !== undefined && theirs.version >= map.version) return theirs;
    if (await this.keys.swapMap(map, snap.map?.modRevision)) return map;
    const now = await this.keys.read();
    const won = now.map?.live;
    if (won !== undefined && won.version >= map.version) return won;
    throw new DistkvError(
      'MAP_CHANGED',
      'the live map in etcd changed while this one was published (another failover?); nothing was changed by this one: run it again',
    );
  }

  private kick(): void {
    if (this.stopped) return;
    if (this.ticking !== undefined) {
      this.again = true;
      return;
    }
    this.ticking = this.tick()
      .then(
        (reconciled) => {
          // A tick without a lease read nothing: the run of failures, if any, goes on.
          if (reconciled) this.reconcileFailures.succeeded();
        },
        (err: unknown) => {
          if (err instanceof EtcdLeaseInvalidError) this.lease.drop();
          const held = heldBack(err) && this.reconcileFailures.failing;
          this.reconcileFailures.failed(held ? undefined : etcdErrorText(err));
        },
      )
      .finally(() => {
        this.ticking = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  private warnOnce(message: string, level: 'warn' | 'error' = 'warn'): void {
    if (message === this.lastError) return;
    this.lastError = message;
    this.log[level](message);
  }

  /**
   * tick reconciles this node with etcd, and resolves true when it did: false when it held no
   * lease and so read nothing (such a tick tells nothing of whether reconciling works: `kick`).
   */
  private async tick(): Promise<boolean> {
    try {
      // The lease the whole reconcile acts under: a keepalive may drop it meanwhile, and a key put
      // under no lease (an undefined ID) would never expire, so no replica could ever take over.
      const lease = this.lease.id;
      if (lease === undefined) return false;
      this.phase.now = `reading ${this.keys.prefix}`;
      const snap = await this.keys.read();
      // Peers on another etcd cluster (asked at the first reconcile, before any campaign): a node
      // without a majority on its etcd cluster takes no part and counts no leader key (shard-step.ts `reserve`).
      this.phase.now = "comparing the peers' etcd clusters with this node's";
      if (await this.etcdClusters.standsAside(snap.clusterId)) {
        this.leaders.forgetAll();
        for (const shard of this.keeper.current.shards) await this.steps.reserve(shard, snap, lease);
        return true;
      }
      const misfit = this.misfit(snap);
      if (misfit !== undefined) {
        // Another cluster's map under this prefix (a shared `[coordination] cluster`): writing over
        // it would make the two clusters overwrite each other's maps, and its leader and seq keys
        // name other shards. Take no part: serve with this node's own map, take no leader key (so
        // this node's leaders take no writes until the map fits), and try again every tick.
        this.warnOnce(misfit, 'error');
        return true;
      }
      this.phase.now = `settling the live map with ${this.keys.mapKey}`;
      await this.syncMap(snap);
      // A shard whose leader the config removed (removed-leaders.ts): this node only learns etcd's
      // map, and its start refuses the config unless that map moved the shard on.
      if (this.removing()) return true;
      // Before the seqs go out: a replica ranked on its seq must not apply more from a leader whose key went.
      this.phase.now = 'holding the replicas of shards without a leader key';
      await this.holds.reconcile(this.keeper.current.shards, snap, (s) => this.otherConfigs.has(s.leader));
      this.phase.now = "publishing this node's seqs";
      await this.seqs.publish(lease, snap);
      const mine = this.keeper.current;
      // A peer that runs [coordination] and has not named its etcd cluster yet may be on another
      // one: the shards not led here wait for it (no campaign), those led here keep their keys.
      const waiting = this.etcdClusters.waitsFor().length > 0;
      for (const shard of mine.shards) {
        if (waiting && !this.hosted.has(shard.leader)) continue;
        this.phase.now = `${shard.name}: its leader key, promotion or campaign`;
        await this.steps.step(mine, shard, snap, lease);
      }
      return true;
    } finally {
      // Also when etcd does not answer: a leader past its deadline is fenced at its worker too.
      this.phase.now = 'fencing the leader stores without their lease at their workers';
      await this.fences.apply((idx) => this.mayWrite(idx));
      this.phase.now = '';
    }
  }

  /** removing tells whether the keeper holds a shard whose leader the config removed, not moved on yet (removed-leaders.ts). */
  private removing(): boolean {
    return (this.keeper.removedLeaders?.().length ?? 0) > 0;
  }

  /** misfit describes a map in etcd that does not fit this node's config (undefined: it fits, or there is none). */
  private misfit(snap: Snapshot): string | undefined {
    if (snap.map === undefined || snap.map.live !== undefined) return undefined;
    return misfitMessage(this.keys.mapKey, snap.map.misfit ?? 'unknown', this.keeper.current.version);
  }

  /** syncMap adopts etcd's map when newer, writes this process's when etcd's is older or missing, and settles one of the same version (map-sync.ts). */
  private async syncMap(snap: Snapshot): Promise<void> {
    const step = mapSync(this.keeper.current, snap.map?.live, this.keys.mapKey);
    if (step.kind === 'adopt')
      await this.keeper.offer(step.map, 'etcd').catch((err: unknown) => {
        this.warnOnce(`refused the live map in etcd: ${(err as Error).message}`);
      });
    else if (step.kind === 'conflict') this.warnOnce(step.message, 'error');
    else if (step.kind === 'write') {
      // Its refit map gives such a shard to the config's leader in epoch 0: not to be published.
      if (this.removing()) return;
      if (step.reason !== undefined) this.warnOnce(step.reason);
      await this.keys.swapMap(step.map, snap.map?.modRevision);
    }
  }
}
