/**
 * EmptyLeaders: a leader store that starts on an empty store (its directory did not exist: the
 * node's data directory is new, was removed or replaced, or is another one) while a replica of its
 * shard holds records. Served, such a leader answered an empty shard, and its replicas, finding
 * themselves ahead of it, saved their records to a divergence file and resynced from its empty
 * snapshot: every key of the shard gone from service (test/e2e/empty-leader.test.ts).
 *
 * A store that starts empty is watched while it holds nothing (last seq 0) and has not led with a
 * record, for the engines that keep data (lsm, lmdb: the memory engine starts empty every time by
 * design). It may start as a replica and lead by a peer's map: the node's own live map went with
 * its directory, so it starts from sharding.toml's, and learns from its peers that it leads. A replica's
 * position is learnt two ways: from its pull (`/_repl/pull`'s `after`, before the pull is
 * answered), and from the peers' `/cluster` (each lists its replica stores' `acked_seq`) at the
 * start's peer round, before the node serves, and at each check after. A position above 0 holds the
 * shard: the leader's worker fences its writes (waiting for those in flight) and, if the store
 * still holds nothing, the shard is marked behind (MapKeeper.markBehind): every request on it here
 * is refused with LEADER_BEHIND, naming the replica and the command that promotes it, and the
 * replica's pulls too, so it keeps its records. A failover that moves the leader away ends it.
 *
 * The watch ends once the leader holds a record: a replica found ahead of it after that holds
 * another history, answered as before (the leader's restart fork at 0, leader-state.ts: the
 * replica's records go to its divergence file; docs/failover.md, "A leader started on an empty
 * store"). So a leader that took writes before any replica was heard (every replica down while it
 * started) is not held back.
 */
import type { Logger } from 'pino';
import type { NodePlan } from './node-plan.js';
import type { MapKeeper } from './map-keeper.js';
import type { WorkerPool } from './worker-pool.js';

/** Planned is a store of this node's plan, with its worker. */
type Planned = NodePlan['stores'][number];

/** Pool is what EmptyLeaders asks of the worker pool. */
type Pool = Pick<WorkerPool, 'call' | 'lastSeq' | 'storeFailure'>;

/** EmptyLeaders watches this node's leader stores that started empty (see above). Main thread only. */
export class EmptyLeaders {
  /** empty maps each watched shard to its leader store here. */
  private readonly empty = new Map<number, Planned>();
  /** checking is the check of each shard in flight: a second sighting waits for it. */
  private readonly checking = new Map<number, Promise<void>>();
  private readonly liveMap: MapKeeper;
  private readonly pool: Pool;
  private readonly log: Logger;

  constructor(liveMap: MapKeeper, pool: Pool, log: Logger) {
    this.liveMap = liveMap;
    this.pool = pool;
    this.log = log;
  }

  /** watch starts watching `stores`, the stores that start empty (before the node serves). */
  watch(stores: readonly Planned[]): void {
    for (const st of stores) this.empty.set(st.shard.idx, st);
  }

  /**
   * sighted is told that `replica` holds shard `idx` through `seq`. It returns undefined when there
   * is nothing to check (the common case: a pull goes on at once), else the check, which resolves
   * once the shard is held as behind (MapKeeper.behindOf) or found to lead with records.
   */
  sighted(idx: number, replica: string, seq: number): Promise<void> | undefined {
    if (seq <= 0 || this.empty.size === 0) return undefined;
    const st = this.empty.get(idx);
    if (st === undefined || this.liveMap.behindOf(idx) !== undefined || !this.stillEmpty(st))
      return undefined;
    const running = this.checking.get(idx);
    if (running !== undefined) return running;
    const check = this.hold(st, replica, seq).finally(() => {
      this.checking.delete(idx);
    });
    this.checking.set(idx, check);
    return check;
  }

  /**
   * fromPeer reads a peer's `/cluster` document: each replica store it hosts names its position
   * (`acked_seq`); resolves once every shard it shows ahead of an empty leader here is checked.
   */
  async fromPeer(doc: unknown): Promise<void> {
    if (this.empty.size === 0) return;
    for (const { idx, address, seq } of replicaPositions(doc)) await this.sighted(idx, address, seq);
  }

  /**
   * stillEmpty tells whether `st` leads its shard here holding nothing. A store that holds a record
   * is watched no more; one that follows is (it may lead by the next map, still empty).
   */
  private stillEmpty(st: Planned): boolean {
    if (this.pool.storeFailure(st.index) !== undefined || this.pool.lastSeq(st.index) > 0) {
      this.empty.delete(st.shard.idx);
      return false;
    }
    return this.liveMap.current.shards.find((s) => s.idx === st.shard.idx)?.leader === st.node;
  }

  /** hold fences `st`'s writes; still empty once those in flight settled, its shard is marked behind. */
  private async hold(st: Planned, replica: string, seq: number): Promise<void> {
    const idx = st.shard.idx;
    const r = await this.pool.call(st.worker, { type: 'fence', store: st.index, on: true });
    const last = r.type === 'fence-result' ? r.lastSeq : this.pool.lastSeq(st.index);
    if (last > 0 || !this.stillEmpty(st)) {
      // A write landed first (it leads with records now: a replica ahead holds another history),
      // or a map moved the leader meanwhile.
      if (last > 0) this.empty.delete(idx);
      if (!this.liveMap.writesFenced(idx))
        await this.pool.call(st.worker, { type: 'fence', store: st.index, on: false });
      return;
    }
    this.liveMap.markBehind(idx, { replica, seq });
    this.log.error(
      { shard: st.shard.name, node: st.node, replica, replica_seq: seq, dir: st.dir },
      `LEADER BEHIND: ${this.liveMap.behindError(idx)!.message}`,
    );
  }
}

/** ReplicaPosition is one replica store's position as a peer's `/cluster` shows it. */
interface ReplicaPosition {
  idx: number;
  address: string;
  seq: number;
}

/** replicaPositions reads the replica stores a `/cluster` document's node hosts, with their positions (none when unreadable). */
export function replicaPositions(doc: unknown): ReplicaPosition[] {
  const shards = (doc as { shards?: unknown } | null)?.shards;
  if (!Array.isArray(shards)) return [];
  const out: ReplicaPosition[] = [];
  for (const s of shards as ({ idx?: unknown; replicas?: unknown } | null)[]) {
    if (typeof s?.idx !== 'number' || !Array.isArray(s.replicas)) continue;
    for (const r of s.replicas as ({ address?: unknown; local?: unknown; acked_seq?: unknown } | null)[])
      if (r?.local === true && typeof r.address === 'string' && typeof r.acked_seq === 'number')
        out.push({ idx: s.idx, address: r.address, seq: r.acked_seq });
  }
  return out;
}
