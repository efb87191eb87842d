/**
 * WorkerFences: with a coordinator, a leader store whose process may not write its shard for now
 * (no leader key, or past its lease deadline: lease-deadline.ts) is fenced at its worker too, not
 * only by the main thread's check on every write, so RESP writes and writes already queued for the
 * worker are held as well (docs/failover.md, "Automatic failover with etcd"). Only fences placed
 * here are released here. A wanted fence is sent again at every `apply`: a `set-role` (a leader
 * that stays one in a new epoch, a promotion) releases the worker's fence (src/worker/
 * replication-messages.ts), which this set cannot see, and RESP writes are held by the worker
 * fence alone. Before, such a store stayed unfenced while its process held no leader key.
 */
import type { NodePlan } from '../server/node-plan.js';
import type { WorkerPool } from '../server/worker-pool.js';

/** WorkerFences keeps each hosted leader store's worker fence in step with `mayWrite`. */
export class WorkerFences {
  private readonly plan: NodePlan;
  private readonly pool: WorkerPool;
  /** fenced are the leader stores fenced at their worker here and not released since. */
  private readonly fenced = new Set<number>();

  constructor(plan: NodePlan, pool: WorkerPool) {
    this.plan = plan;
    this.pool = pool;
  }

  /** apply fences (again) the leader stores whose shard `mayWrite` refuses, and releases the others fenced here. */
  async apply(mayWrite: (idx: number) => boolean): Promise<void> {
    for (const st of this.plan.stores) {
      if (st.role !== 'leader') {
        this.fenced.delete(st.index);
        continue;
      }
      if (this.pool.storeFailure(st.index) !== undefined) continue;
      const want = !mayWrite(st.shard.idx);
      if (!want && !this.fenced.has(st.index)) continue;
      await this.pool.call(st.worker, { type: 'fence', store: st.index, on: want });
      if (want) this.fenced.add(st.index);
      else this.fenced.delete(st.index);
    }
  }
}
