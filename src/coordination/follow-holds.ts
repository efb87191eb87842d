/**
 * FollowHolds: while a shard's leader key is missing from etcd, this process's replicas of that
 * shard stop following (docs/failover.md, "Automatic failover with etcd").
 *
 * A campaign ranks the members of a shard on the seqs they publish (candidate-rank.ts). A leader
 * cut off from etcd alone still reaches its replicas: a replica that went on applying its records
 * after it published its seq could hold records that the winner, ranked ahead of it on that seq,
 * never had. So from the moment a reconcile sees the key missing, each hosted replica of the
 * shard is held (`fence` to its worker, as a promotion holds its target) before the seqs are
 * published, and the seq published is the one the hold answered: the replica then holds exactly
 * what it could be ranked on. The hold is renewed at every reconcile while the key stays missing
 * (the worker lets it run out after `ms` by itself, so a coordinator that lost etcd frees it). A key
 * held again by the leader the map names releases it; a key held by another member is a campaign's
 * winner, whose map turns the replica over (set-role ends the hold on the worker), or the hold runs
 * out.
 *
 * A shard whose map leader routes with another config (config-peers.ts) is not held: no member of
 * this config campaigns for it (campaign.ts), so there is no ranking to hold for, and its leader
 * holds its key under the other config's keys, so this config's key is missing for the whole of a
 * rolling change of the file. Held then, every replica restarted on the new file stopped copying
 * its leader at its first reconcile (and again at each, the hold renewed): `w=1` writes timed out,
 * and the leader's graceful stop found no replica holding its last seq (drain-handover.ts), though
 * the replica could pull from it (leader-config.ts). A hold placed before is released then.
 *
 * Only holds placed here are released here, and only this owner's (FOLLOW_HOLD, through the
 * keeper's StoreHolds): a `distkv failover` claiming the same replica keeps its hold when the key
 * comes back, and its release leaves this one in place.
 */
import type { LiveShard } from '../routing/live-map.js';
import type { NodePlan } from '../server/node-plan.js';
import { FOLLOW_HOLD, type StoreHolds } from '../server/store-holds.js';
import type { WorkerPool } from '../server/worker-pool.js';
import type { Snapshot } from './etcd-keyspace.js';

/** FollowHolds places and releases the holds described above, for one process. */
export class FollowHolds {
  private readonly plan: NodePlan;
  private readonly pool: WorkerPool;
  private readonly holds: StoreHolds;
  private readonly ms: number;
  private readonly warn: (message: string) => void;
  /** placed are the replica stores held here and not released since. */
  private readonly placed = new Set<number>();
  /**
   * seqs are, by store index, the seq each replica held by the last reconcile answered: its
   * position while held. Only that reconcile's: a hold left to a winner's map may have ended on
   * the worker since (a replica resyncing then publishes 0, and must not be ranked on more).
   */
  private seqs = new Map<number, number>();

  /** `ms` bounds each hold at the worker (renewed at every reconcile while the key is missing). */
  constructor(
    plan: NodePlan,
    pool: WorkerPool,
    holds: StoreHolds,
    ms: number,
    warn: (message: string) => void,
  ) {
    this.plan = plan;
    this.pool = pool;
    this.holds = holds;
    this.ms = ms;
    this.warn = warn;
  }

  /** heldSeq is the seq replica store `index` answered when the last reconcile held it (undefined: it did not). */
  heldSeq(index: number): number | undefined {
    return this.seqs.get(index);
  }

  /**
   * reconcile holds the replicas of shards whose leader key `snap` lacks, unless `otherConfig` says
   * their map leader routes with another config, and releases the others it held.
   */
  async reconcile(
    shards: readonly LiveShard[],
    snap: Snapshot,
    otherConfig: (shard: LiveShard) => boolean = () => false,
  ): Promise<void> {
    this.seqs = new Map();
    for (const st of this.plan.stores) {
      if (st.role !== 'replica' || this.pool.storeFailure(st.index) !== undefined) {
        this.placed.delete(st.index);
        continue;
      }
      const shard = shards.find((s) => s.idx === st.shard.idx);
      if (shard === undefined) continue;
      const holder = snap.leaders.get(shard.name)?.value.toString();
      // A worker that does not answer must not stop the reconcile of the other shards (their keys).
      try {
        if (holder === undefined && !otherConfig(shard)) {
          this.placed.add(st.index);
          this.seqs.set(st.index, await this.holds.hold(st, FOLLOW_HOLD, this.ms, false));
        } else if ((holder === undefined || holder === shard.leader) && this.placed.delete(st.index)) {
          await this.holds.release(st, FOLLOW_HOLD);
        }
      } catch (err) {
        this.warn(
          `holding ${shard.name} on ${st.node} (its leader key is ${holder === undefined ? 'missing' : `held by ${holder}`}): ${(err as Error).message}`,
        );
      }
    }
  }
}
