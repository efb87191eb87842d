/**
 * SeqPublisher: each hosted store's durable seq, published under this process's lease
 * (`seq/<shard>/<node>`, etcd-keyspace.ts) so a campaign ranks every live member
 * (candidate-rank.ts; docs/failover.md, "Automatic failover with etcd").
 *
 * A held replica publishes the seq its hold answered (follow-holds.ts), not one it may still
 * reach. A seq is written again whenever it changed, the lease changed (keys under an earlier
 * lease went with it), or etcd does not show it (a snapshot restored with an older seq under a
 * lease still alive).
 *
 * A store that refuses every write (its directory lost: STORE_DIR_LOST, positions.ts
 * SLOT_STORE_ERROR) publishes nothing, and its seq is withdrawn: what it holds is gone at its next
 * start, it does not campaign (campaign.ts), and a seq left published would outrank the replicas
 * that may lead, leaving the shard without a leader until the node restarted.
 */
import type { NodePlan } from '../server/node-plan.js';
import type { WorkerPool } from '../server/worker-pool.js';
import type { EtcdKeyspace, Snapshot } from './etcd-keyspace.js';
import type { FollowHolds } from './follow-holds.js';

/** SeqPublisher publishes this process's stores' seqs; see the design block above. */
export class SeqPublisher {
  /** published are the seqs last published, by key, under lease `publishedUnder`. */
  private readonly published = new Map<string, number>();
  private publishedUnder: string | undefined;
  private readonly keys: EtcdKeyspace;
  private readonly plan: NodePlan;
  private readonly pool: WorkerPool;
  private readonly holds: FollowHolds;

  constructor(keys: EtcdKeyspace, plan: NodePlan, pool: WorkerPool, holds: FollowHolds) {
    this.keys = keys;
    this.plan = plan;
    this.pool = pool;
    this.holds = holds;
  }

  /** seqOf is store `index`'s durable seq: the one its hold answered while it is held. */
  seqOf(index: number): number {
    return this.holds.heldSeq(index) ?? this.pool.lastSeq(index);
  }

  /** publish publishes each store's seq unless put under `lease` and still shown by etcd (`snap`). */
  async publish(lease: string, snap: Snapshot): Promise<void> {
    if (this.publishedUnder !== lease) this.published.clear();
    this.publishedUnder = lease;
    for (const st of this.plan.stores) {
      if (this.pool.storeFailure(st.index) !== undefined) continue;
      const key = this.keys.seqKey(st.shard.name, st.node);
      const shown = snap.seqs.get(st.shard.name)?.find((p) => p.address === st.node);
      if (this.pool.storeError(st.index) !== undefined) {
        if (shown !== undefined) await this.keys.withdrawSeq(st.shard.name, st.node);
        this.published.delete(key);
        continue;
      }
      const seq = this.seqOf(st.index);
      if (this.published.get(key) === seq && shown?.seq === seq) continue;
      await this.keys.publishSeq(st.shard.name, st.node, seq, lease);
      this.published.set(key, seq);
    }
  }
}
