/**
 * ShardSteps: what one reconcile of the etcd coordinator (etcd-coordinator.ts) does for each shard
 * of the map it acts on, store by store of those hosted here (docs/failover.md, "Automatic failover
 * with etcd"). The coordinator reads etcd, settles the map, the holds and the published seqs; then,
 * for each shard, `step` decides:
 *
 *   - a leader store here held behind a replica that published a higher seq gives up its leader
 *     key (behind-resign.ts), and neither keeps nor takes it, nor campaigns, while that holds;
 *   - so does a leader store here that refuses every write (its directory removed or replaced
 *     while the node runs: STORE_DIR_LOST, positions.ts SLOT_STORE_ERROR; what it holds is gone
 *     at its next start), once a live member has published a seq at or above the store's last
 *     seq for two lease TTLs (`resignLost`): kept, its key left the shard unwritable until an
 *     operator ran a failover; given up, the replicas campaign as for a leader whose lease lapsed
 *     (its seq is withdrawn: seq-publisher.ts), and the one holding every record it wrote takes
 *     the shard over. Until one does (its replicas down, or behind), it keeps the key, so reads
 *     and `distkv backup` of what only it holds go on (given up, it refused them:
 *     SWITCHING_LEADER), and its replicas pull its last records from it;
 *   - else a leader store here keeps or takes its leader key (leader-keys.ts); one that owes a new
 *     epoch after an unclean stop in a lossy durability mode (`oweNewEpochs`) first publishes its
 *     own promotion, leader unchanged, before it takes a write (self-promotion.ts);
 *   - a replica store lets go of a key of this process the map now gives another node, else may
 *     campaign for a shard whose leader key is missing (campaign.ts), unless the map's leader
 *     answers routing with another config (config-peers.ts), which holds the campaign back.
 *
 * State kept between reconciles, written only by the coordinator's one reconcile at a time: the
 * shards owed a new epoch, the shards whose leader here resigned (`handsOver`), and the shards whose
 * campaign a leader on another config holds back (each logged once when it starts and ends).
 */
import type { IKeyValue } from 'etcd3';
import type { Logger } from 'pino';
import type { LiveMap, LiveShard } from '../routing/live-map.js';
import type { MapKeeper } from '../server/map-keeper.js';
import type { NodePlan } from '../server/node-plan.js';
import type { WorkerPool } from '../server/worker-pool.js';
import { RESTART_SOURCE } from '../server/restart-epochs.js';
import { resignFor } from './behind-resign.js';
import { campaignFor, promotionRefusal } from './campaign.js';
import type { CampaignGate } from './campaign-gate.js';
import type { EtcdKeyspace, Snapshot } from './etcd-keyspace.js';
import type { FollowHolds } from './follow-holds.js';
import type { LeaderKeys } from './leader-keys.js';
import type { ProcessLease } from './process-lease.js';
import { type Promotion, promoteAndAdopt } from './self-promotion.js';
import type { SeqPublisher } from './seq-publisher.js';

/** ShardStepDeps are what the shard steps use of their coordinator. */
export interface ShardStepDeps {
  keys: EtcdKeyspace;
  lease: ProcessLease;
  leaders: LeaderKeys;
  gate: CampaignGate;
  seqs: SeqPublisher;
  holds: FollowHolds;
  keeper: Pick<MapKeeper, 'current' | 'offer' | 'holds' | 'behindOf'>;
  plan: NodePlan;
  pool: WorkerPool;
  log: Logger;
  ttlMs: number;
  /** holdMs bounds how long a promotion holds its store's following (it resumes by itself after). */
  holdMs: number;
  /** otherConfig tells whether the node at `address` last answered routing with another config (config-peers.ts). */
  otherConfig: (address: string) => boolean;
  /** started tells whether the coordinator's first reconcile is done (LeaderKeys.keep). */
  started: () => boolean;
  /** warn logs `message` unless it is the coordinator's last one. */
  warn: (message: string, level: 'warn' | 'error') => void;
}

/** ShardSteps reconciles each shard's leader key, promotion and campaign; see the design block above. */
export class ShardSteps {
  /** owed are the shards whose leader here owes a new epoch after an unclean stop (`oweNewEpochs`). */
  private readonly owed = new Set<number>();
  /** resigned are the shards whose held leader here gave up its key (logged once each). */
  private readonly resigned = new Set<number>();
  /** lost are the shards whose leader here gave up its key because its store refuses every write (logged once each). */
  private readonly lost = new Set<number>();
  /** lostWaiting are the shards whose lost leader here keeps its key until a replica holds its last seq (logged once each). */
  private readonly lostWaiting = new Set<number>();
  /** lostHolderSince is, per shard of a lost leader here, since when (performance.now()) a live member has held its last seq. */
  private readonly lostHolderSince = new Map<number, number>();
  /** heldBack names the shards (idx) whose campaign a leader on another config holds back, as logged. */
  private readonly heldBack = new Map<number, string>();
  private readonly d: ShardStepDeps;

  constructor(deps: ShardStepDeps) {
    this.d = deps;
  }

  /** oweNewEpochs marks every shard with a store here as owing a new epoch (the last run stopped uncleanly, lossy). */
  oweNewEpochs(): void {
    for (const st of this.d.plan.stores) this.owed.add(st.shard.idx);
  }

  /** handsOver tells whether shard `idx`'s leader here, held behind a replica, gave up its leader key (behind-resign.ts). */
  handsOver(idx: number): boolean {
    return this.resigned.has(idx);
  }

  /**
   * step reconciles one shard of `mine` (the map this reconcile acts on): keep or take its leader
   * key if this process leads it (with the new epoch it owes after an unclean stop), let the key go
   * if the map names another leader, else maybe campaign (campaign.ts). `snap` is the reconcile's
   * read of etcd, `lease` the lease it acts under.
   */
  async step(mine: LiveMap, shard: LiveShard, snap: Snapshot, lease: string): Promise<void> {
    const { plan, pool, leaders } = this.d;
    const kv = snap.leaders.get(shard.name);
    const hosted = plan.stores.filter(
      (st) => st.shard.idx === shard.idx && pool.storeFailure(st.index) === undefined,
    );
    // A shard another node leads now owes no epoch here (that leader's promotion made one).
    if (!hosted.some((st) => st.node === shard.leader)) this.owed.delete(shard.idx);
    for (const st of hosted) {
      if (st.node === shard.leader) {
        if (await this.resignLost(shard, st, kv, snap, lease)) continue;
        if (await this.resignBehind(shard, st.node, kv, snap, lease)) continue;
        const won = await leaders.keep(shard, st.node, kv, lease, this.d.started());
        if (won === undefined) continue;
        if (!this.owed.has(shard.idx)) leaders.take(shard, st.node, lease);
        // Owed a new epoch after an unclean stop: a campaign's promotion, leader unchanged, before any write.
        else {
          const p = { mine, shard, node: st.node, store: st.index, worker: st.worker, won };
          if (await this.promoteSelf(p, `etcd (${RESTART_SOURCE})`, lease)) this.owed.delete(shard.idx);
        }
        continue;
      }
      if (await leaders.letGo(shard, st.node, kv, lease)) continue;
      const deps = {
        keys: this.d.keys,
        gate: this.d.gate,
        lease: this.d.lease,
        seqs: this.d.seqs,
        ttlMs: this.d.ttlMs,
        promote: (p: Promotion, source: string) => this.promoteSelf(p, source, lease),
        otherConfig: (s: LiveShard) => this.leaderOnOtherConfig(s),
        refusal: (index: number) => promotionRefusal(pool, index),
        log: this.d.log,
      };
      await campaignFor(deps, st, shard, snap, lease, mine);
    }
  }

  /**
   * reserve keeps or takes `shard`'s leader key for its leader here (store open) without counting
   * it, so that leader takes no writes: a node standing aside for peers on another etcd cluster
   * (etcd-cluster-guard.ts) still holds its keys in its etcd, so a member there that does not know
   * of the other cluster yet (at a start) does not campaign for them, and writes again once it takes part.
   */
  async reserve(shard: LiveShard, snap: Snapshot, lease: string): Promise<void> {
    const { plan, pool, leaders } = this.d;
    const st = plan.stores.find((x) => x.shard.idx === shard.idx && x.node === shard.leader);
    if (st === undefined || pool.storeFailure(st.index) !== undefined) return;
    await leaders.keep(shard, st.node, snap.leaders.get(shard.name), lease, this.d.started());
  }

  /**
   * leaderOnOtherConfig tells whether `shard`'s map leader last answered routing with another
   * config (config-peers.ts), logging once when that starts holding the shard's campaign back and
   * once when it ends.
   */
  private leaderOnOtherConfig(shard: LiveShard): boolean {
    const other = this.d.otherConfig(shard.leader);
    const logged = this.heldBack.get(shard.idx);
    if (other && logged !== shard.leader) {
      this.heldBack.set(shard.idx, shard.leader);
      this.d.log.warn(
        { shard: shard.name, leader: shard.leader },
        `not taking ${shard.name} over: its leader ${shard.leader} has no key under this config's etcd keys, but it routes with another sharding.toml, whose keys it may still lead the shard under; restart it with this node's file (a rolling change of the file goes on), or, if it is gone for good, run distkv failover --shard ${shard.name} --force`,
      );
    } else if (!other && logged !== undefined) {
      this.heldBack.delete(shard.idx);
      this.d.log.info(
        { shard: shard.name },
        `${shard.name}: its leader ${logged} no longer routes with another config`,
      );
    }
    return other;
  }

  /**
   * resignLost gives up `shard`'s leader key when its leader store here, `st`, refuses every write
   * (STORE_DIR_LOST) and a live member published a seq at or above the store's last one (see the
   * design block). Resolves with whether it did (it neither keeps nor takes the key then, nor
   * campaigns: campaign.ts refuses such a store too). Once given up, the key stays given up.
   */
  private async resignLost(
    shard: LiveShard,
    st: NodePlan['stores'][number],
    kv: IKeyValue | undefined,
    snap: Snapshot,
    lease: string,
  ): Promise<boolean> {
    const code = this.d.pool.storeError(st.index);
    if (code !== 'STORE_DIR_LOST') {
      this.lost.delete(shard.idx);
      this.lostWaiting.delete(shard.idx);
      this.lostHolderSince.delete(shard.idx);
      return false;
    }
    const last = this.d.pool.lastSeq(st.index);
    const holder = (snap.seqs.get(shard.name) ?? []).find((p) => p.address !== st.node && p.seq >= last);
    const where = `${st.dir} was removed or replaced while the node runs, and what it holds is gone at its next start`;
    // The key is given up only once the holder was seen for two TTLs: a replica that just started
    // takes no key it saw in its first lease period as held (campaign-gate.ts), and, given up
    // before it saw it held, it waited without a bound for every other member to publish a seq
    // (the cold-start rule) while this one kept nothing for it to read.
    if (holder === undefined) this.lostHolderSince.delete(shard.idx);
    else if (!this.lostHolderSince.has(shard.idx)) this.lostHolderSince.set(shard.idx, performance.now());
    const heldFor = performance.now() - (this.lostHolderSince.get(shard.idx) ?? Infinity);
    if (!this.lost.has(shard.idx) && holder !== undefined && heldFor < 2 * this.d.ttlMs) return false;
    if (holder === undefined && !this.lost.has(shard.idx)) {
      if (!this.lostWaiting.has(shard.idx)) {
        this.lostWaiting.add(shard.idx);
        this.d.log.error(
          { shard: shard.name, node: st.node, dir: st.dir, local_error: code, last_seq: last },
          `${st.node} keeps the leader key of ${shard.name} though its store refuses every write (${code}: ${where}): ` +
            `no live replica has published seq ${String(last)} yet (they are down, or still pulling it). Reads and ` +
            `distkv backup of it still work: copy the data out now. It gives the key up once a replica holds seq ${String(last)}, ` +
            `and that replica takes the shard over`,
        );
      }
      return false;
    }
    await this.d.leaders.resign(shard, st.node, kv, lease, this.d.started());
    if (!this.lost.has(shard.idx)) {
      this.lost.add(shard.idx);
      this.d.log.error(
        { shard: shard.name, node: st.node, dir: st.dir, local_error: code, replica: holder?.address },
        `${st.node} gives up the leader key of ${shard.name}: its store refuses every write (${code}: ${where}); ` +
          `${holder?.address ?? 'a replica'} holds its last seq ${String(last)} and takes the shard over. Then stop ${st.node} ` +
          'and start it with --repair: its store opens empty and resyncs from the new leader',
      );
    }
    return true;
  }

  /**
   * resignBehind gives up `shard`'s leader key when its leader here, `node`, is held behind a
   * replica and a live member published a seq above its own (behind-resign.ts): the campaign then
   * promotes the most advanced member. Resolves with whether the shard's leader here is resigned
   * (it neither keeps nor takes the key, nor campaigns).
   */
  private async resignBehind(
    shard: LiveShard,
    node: string,
    kv: IKeyValue | undefined,
    snap: Snapshot,
    lease: string,
  ): Promise<boolean> {
    const behind = this.d.keeper.behindOf(shard.idx);
    const ahead = resignFor(node, behind, snap.seqs.get(shard.name) ?? []);
    if (behind === undefined || ahead === undefined) {
      this.resigned.delete(shard.idx);
      return false;
    }
    await this.d.leaders.resign(shard, node, kv, lease, this.d.started());
    if (!this.resigned.has(shard.idx)) {
      this.resigned.add(shard.idx);
      this.d.log.warn(
        {
          shard: shard.name,
          node,
          leader_seq: behind.leaderSeq,
          replica: ahead.address,
          replica_seq: ahead.seq,
        },
        `LEADER BEHIND: ${node} gives up the leader key of ${shard.name}: ${ahead.address} published seq ` +
          `${String(ahead.seq)} in etcd, above this store's ${String(behind.leaderSeq)}; the most advanced ` +
          'live member takes the shard over, and this node copies it then',
      );
    }
    return true;
  }

  /** promoteSelf stores `p`'s promotion in etcd and adopts it (self-promotion.ts), then takes the shard's writes; resolves with whether it did. */
  private async promoteSelf(p: Promotion, source: string, lease: string): Promise<boolean> {
    const deps = {
      keys: this.d.keys,
      pool: this.d.pool,
      holds: this.d.holds,
      storeHolds: this.d.keeper.holds,
      log: this.d.log,
      keeper: this.d.keeper,
      holdMs: this.d.holdMs,
      warn: this.d.warn,
    };
    const epoch = await promoteAndAdopt(deps, p, source);
    if (epoch === undefined) return false;
    this.d.leaders.take({ ...p.shard, epoch }, p.node, lease);
    return true;
  }
}
