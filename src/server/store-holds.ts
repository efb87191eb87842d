/**
 * StoreHolds: who holds a replica store's following, on the main thread (docs/failover.md,
 * "Who holds a shard").
 *
 * A replica store's worker knows one hold (ReplicationHost.holdFollowing: on, off, a time limit),
 * but several parts of a process place it: `distkv failover` through `POST /_admin/fence` (its
 * claim on the shard, named by its `by`), the etcd coordinator while the shard's leader key is
 * missing (follow-holds.ts, owner FOLLOW_HOLD) and a self-promotion (self-promotion.ts, owner
 * PROMOTION_HOLD). Each owner's hold is kept here with its own deadline; the worker is held while
 * any owner's hold lasts (its limit is the latest deadline), and released only when the last
 * owner lets go. Before, any release ended the hold: a failover's release after it lost a race
 * (`MAP_CHANGED`) reached a demoted leader's replica store and ended the coordinator's hold there,
 * and the replica followed again while its shard's seqs were being ranked.
 *
 * A claim (`exclusive`) is a failover's: while one is held, another owner's claim is refused with
 * MAP_CHANGED, so of two failovers of one shard at once only one holds its members. Holds of the
 * coordinator are not claims: they never refuse nor get refused.
 *
 * A store's role change (`set-role`) ends its worker's hold: `ended` forgets every owner then.
 * State is the main thread's alone; deadlines use the monotonic clock.
 */
import { DistkvError } from '../errors.js';
import type { WorkerPool } from './worker-pool.js';

/** FOLLOW_HOLD names the etcd coordinator's holds while a shard's leader key is missing. */
export const FOLLOW_HOLD = 'coordinator-follow-hold';
/** PROMOTION_HOLD names a self-promotion's hold of the store it promotes. */
export const PROMOTION_HOLD = 'coordinator-promotion';

/** HeldStore names a store and the worker that hosts it. */
export interface HeldStore {
  index: number;
  worker: number;
}

interface Hold {
  until: number;
  exclusive: boolean;
}

/** StoreHolds keeps, per store, the owners of its hold (see above). */
export class StoreHolds {
  private readonly pool: () => WorkerPool;
  private readonly held = new Map<number, Map<string, Hold>>();

  /** `pool` returns the worker pool (the keeper gets it once the node is attached). */
  constructor(pool: () => WorkerPool) {
    this.pool = pool;
  }

  /** owners lists store `index`'s owners whose hold has not run out (pruning the others). */
  private owners(index: number): Map<string, Hold> {
    const now = performance.now();
    const m = this.held.get(index) ?? new Map<string, Hold>();
    for (const [owner, h] of m) if (h.until <= now) m.delete(owner);
    if (m.size === 0) this.held.delete(index);
    return m;
  }

  /** claimant is the failover whose claim holds store `index`, and how many ms it has left. */
  claimant(index: number): { owner: string; ms: number } | undefined {
    for (const [owner, h] of this.owners(index))
      if (h.exclusive) return { owner, ms: Math.ceil(h.until - performance.now()) };
    return undefined;
  }

  /**
   * hold holds store `st` for `owner` during `ms` (renewing its earlier hold) and resolves with the
   * store's last seq, which stays put while held. A claim (`exclusive`) while another owner's claim
   * lasts is refused (MAP_CHANGED) and changes nothing.
   */
  async hold(st: HeldStore, owner: string, ms: number, exclusive: boolean): Promise<number> {
    const m = this.owners(st.index);
    const other = this.claimant(st.index);
    if (exclusive && other !== undefined && other.owner !== owner)
      throw new DistkvError(
        'MAP_CHANGED',
        `another failover (${other.owner}) holds this shard here for ${other.ms} ms more: it moves the leader or lets go (at the latest when its hold runs out); nothing was changed, run it again after`,
      );
    const until = performance.now() + ms;
    m.set(owner, { until, exclusive });
    this.held.set(st.index, m);
    const last = Math.max(...[...m.values()].map((h) => h.until));
    const r = await this.pool().call(st.worker, {
      type: 'fence',
      store: st.index,
      on: true,
      ms: Math.max(1, Math.ceil(last - performance.now())),
    });
    return r.type === 'fence-result' ? r.lastSeq : this.pool().lastSeq(st.index);
  }

  /**
   * release ends `owner`'s hold of store `st` (every owner's when `owner` is undefined: an
   * operator's release) and resolves with whether the worker's hold ended. A release by an owner
   * that holds nothing here, or while another owner's hold lasts, leaves the worker held.
   */
  async release(st: HeldStore, owner: string | undefined): Promise<boolean> {
    const m = this.owners(st.index);
    if (owner !== undefined) {
      if (!m.delete(owner)) return false;
      if (m.size > 0) return false;
    }
    this.held.delete(st.index);
    await this.pool().call(st.worker, { type: 'fence', store: st.index, on: false });
    return true;
  }

  /** ended forgets store `index`'s owners: its role changed, which ended its worker's hold. */
  ended(index: number): void {
    this.held.delete(index);
  }
}
