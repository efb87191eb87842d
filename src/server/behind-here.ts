/**
 * BehindHere: the replicas this process hosts, as witnesses that a leader here started behind
 * (behind-leaders.ts). A replica in another process is seen through its node's `/cluster` and its
 * pulls at `/_repl/pull`; one in this process follows its leader here through its worker
 * (LocalSource) or a ring (RingSource, whose first pull goes through `/_repl/pull`), and was never
 * seen: its leader opened empty (`distkv load --node REPLICA` into a fresh directory, the leader's
 * directory lost or put back from an older copy), the replica, told it was ahead, resynced from it,
 * and every record only it held was gone from service
 * (test/e2e/load-replica-only-same-process.test.ts).
 *
 * Two parts, both before the node serves:
 *   - `flagWatchedLeaders`, before the workers start: each replica store whose leader is in this
 *     process and watched from its start is told so (ReplicaSpec.leaderWatched), so that its
 *     worker refuses its pulls ahead of that leader while the leader has taken no write
 *     (local-source.ts): its first pull comes as its worker opens, before anything here has read
 *     a position;
 *   - `herePositions`, once the stores are open and at each later check: the positions of this
 *     process's replica stores (the pool's shared positions, which its `/cluster` shows peers as
 *     `acked_seq`), read as a peer's; `herePosition` confirms a pull's claim for one of them.
 */
import type { Confirmation, ReplicaPosition } from './behind-confirm.js';
import type { MapKeeper } from './map-keeper.js';
import type { NodePlan } from './node-plan.js';
import type { WorkerPool } from './worker-pool.js';

/** Planned is a store of this node's plan, with its worker. */
type Planned = NodePlan['stores'][number];

/**
 * watchedFromStart tells whether store `index` is watched from its start (BehindLeaders.watch):
 * in `empty` (its directory did not exist), or any store after a stop that was not `lossy`.
 */
export function watchedFromStart(index: number, empty: ReadonlySet<number>, lossy: boolean): boolean {
  return empty.has(index) || !lossy;
}

/**
 * flagWatchedLeaders sets `leaderWatched` on the spec of each replica store of `stores` whose
 * leader store is in this process and watched from its start; called before the workers start.
 */
export function flagWatchedLeaders(
  stores: readonly Planned[],
  empty: ReadonlySet<number>,
  lossy: boolean,
): void {
  for (const st of stores) {
    const leader = st.replication?.leaderStore;
    if (st.replication !== undefined && leader !== undefined && watchedFromStart(leader, empty, lossy))
      st.replication.leaderWatched = true;
  }
}

/**
 * herePositions lists the positions of the replica stores of `stores` that replicate a shard of
 * `shards` as the live map has it now (a store the map made its shard's leader is none); a store
 * that failed to open shows none.
 */
export function herePositions(
  stores: readonly Planned[],
  shards: ReadonlySet<number>,
  liveMap: Pick<MapKeeper, 'current'>,
  pool: Pick<WorkerPool, 'lastSeq' | 'storeFailure'>,
): ReplicaPosition[] {
  const out: ReplicaPosition[] = [];
  for (const st of stores) {
    const idx = st.shard.idx;
    if (!shards.has(idx) || pool.storeFailure(st.index) !== undefined) continue;
    const s = liveMap.current.shards.find((x) => x.idx === idx);
    if (s === undefined || s.leader === st.node || !s.replicas.includes(st.node)) continue;
    out.push({ idx, address: st.node, seq: pool.lastSeq(st.index) });
  }
  return out;
}

/**
 * herePosition is the position of the replica store of node `replica` of shard `idx` when this
 * process hosts it (a claim on it is read, not asked), or why it has none; undefined when it is
 * not hosted here.
 */
export function herePosition(
  stores: readonly Planned[],
  pool: Pick<WorkerPool, 'lastSeq' | 'storeFailure'>,
  replica: string,
  idx: number,
): Confirmation | undefined {
  const local = stores.find((s) => s.shard.idx === idx && s.node === replica);
  if (local === undefined) return undefined;
  if (pool.storeFailure(local.index) !== undefined) return { reason: `its store in this process failed` };
  return { seq: pool.lastSeq(local.index) };
}
