/**
 * BehindLeaders: a leader store that starts holding less than a replica of its shard, in the same
 * history, while it cannot have lost a record any replica saw. Its data directory was lost (a new
 * disk, the directory removed, a host rebuilt, the wrong `--data-dir`: every store starts empty) or
 * put back from an older copy (a VM snapshot rolled back, a directory restored from a backup of
 * its files). Served, such a leader answered an old or empty shard, and its replicas, finding
 * themselves ahead of it, saved their newer records to a divergence file and resynced from it: every
 * write it lacked, acknowledged ones included, gone from service (test/e2e/behind-leader.test.ts).
 *
 * Each store is watched from the start (for the engines that keep data: lsm, lmdb; the memory
 * engine starts empty every time by design) while it has taken no write since (its last seq is
 * still the one it opened with, `startSeq`) and leads its shard here:
 *   - a store that starts empty (its directory did not exist), in any epoch: it may start as a
 *     replica and lead by a peer's map, since its node's own live map went with the directory and
 *     it starts from sharding.toml's;
 *   - any other store after a clean stop or in `fsync` mode (the run marker is not lossy,
 *     run-marker.ts), in the epoch it opened in: no replica can hold a record it lacks. After a
 *     lossy stop a replica may, legitimately: the leader starts a new epoch and the replica forks
 *     (restart-epochs.ts); a new epoch (a failover, a restart's) likewise ends the watch.
 * A replica's position is learnt from its pull (`/_repl/pull`'s `after`, before the pull is
 * answered) and from its node's `/cluster` (each lists its replica stores' `acked_seq`) at the
 * start's peer round, before this node serves, and at each check after. A position above
 * `startSeq` holds the shard: the leader's worker fences its writes (waiting for those in flight)
 * and, if the store still took none, the shard is marked behind (MapKeeper.markBehind): every
 * request on it here is refused with LEADER_BEHIND, naming the most advanced replica seen and the
 * command that promotes it, and the replicas' pulls too, so they keep their records. A failover
 * that moves the leader away ends it.
 *
 * The watch ends once the leader takes a write: a replica found ahead of it after that holds
 * another history, answered as before (the leader's restart fork, leader-state.ts: the replica's
 * records go to its divergence file; docs/failover.md, "A leader that starts behind its replica").
 */
import type { Logger } from 'pino';
import type { MapKeeper } from './map-keeper.js';
import type { NodePlan } from './node-plan.js';
import type { WorkerPool } from './worker-pool.js';

/** Planned is a store of this node's plan, with its worker. */
type Planned = NodePlan['stores'][number];

/** Pool is what BehindLeaders asks of the worker pool. */
type Pool = Pick<WorkerPool, 'call' | 'lastSeq' | 'storeFailure'>;

/** Watched is a store watched since its start. */
export interface Watched {
  st: Planned;
  /** startSeq is the store's last seq when it opened. */
  startSeq: number;
  /** epoch is the shard's epoch the watch holds in; undefined: any (a store that started empty). */
  epoch: number | undefined;
}

/** BehindLeaders watches this node's stores from their start (see above). Main thread only. */
export class BehindLeaders {
  /** watched maps each watched shard to its store here. */
  private readonly watched = new Map<number, Watched>();
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

  /**
   * watch starts watching the open stores `stores` (before the node serves): those in `empty`
   * (their directories did not exist before they opened) in any epoch; the others, unless
   * `lossy` (the last run stopped uncleanly in a mode that may lose synced-late records), in the
   * epoch their shard is in now.
   */
  watch(stores: readonly Planned[], empty: ReadonlySet<number>, lossy: boolean): void {
    for (const st of stores) {
      if (this.pool.storeFailure(st.index) !== undefined) continue;
      const startSeq = this.pool.lastSeq(st.index);
      if (empty.has(st.index)) this.watched.set(st.shard.idx, { st, startSeq, epoch: undefined });
      else if (!lossy) this.watched.set(st.shard.idx, { st, startSeq, epoch: this.epochOf(st.shard.idx) });
    }
  }

  /**
   * sighted is told that `replica` holds shard `idx` through `seq`. It returns undefined when there
   * is nothing to check (the common case: a pull goes on at once), else the check, which resolves
   * once the shard is held as behind (MapKeeper.behindOf) or found to lead with a write since.
   */
  sighted(idx: number, replica: string, seq: number): Promise<void> | undefined {
    if (this.watched.size === 0) return undefined;
    const w = this.watched.get(idx);
    if (w === undefined || seq <= w.startSeq) return undefined;
    const behind = this.liveMap.behindOf(idx);
    if (behind !== undefined) {
      // Held already: the message names the most advanced replica seen.
      if (seq > behind.seq) this.liveMap.markBehind(idx, { ...behind, replica, seq });
      return undefined;
    }
    if (!this.stillWatched(w)) return undefined;
    const running = this.checking.get(idx);
    if (running !== undefined) return running;
    const check = this.hold(w, replica, seq).finally(() => {
      this.checking.delete(idx);
    });
    this.checking.set(idx, check);
    return check;
  }

  /**
   * fromPeer reads a peer's `/cluster` document: each replica store it hosts names its position
   * (`acked_seq`); resolves once every shard it shows ahead of a watched leader here is checked.
   */
  async fromPeer(doc: unknown): Promise<void> {
    if (this.watched.size === 0) return;
    for (const { idx, address, seq } of replicaPositions(doc)) await this.sighted(idx, address, seq);
  }

  /**
   * stillWatched tells whether `w`'s store leads its shard here with no write since its start. A
   * store that took a write, or whose epoch moved on, is watched no more; one that follows is (it
   * may lead by the next map, and nothing was written to it).
   */
  private stillWatched(w: Watched): boolean {
    const idx = w.st.shard.idx;
    if (
      this.pool.storeFailure(w.st.index) !== undefined ||
      this.pool.lastSeq(w.st.index) !== w.startSeq ||
      (w.epoch !== undefined && this.epochOf(idx) !== w.epoch)
    ) {
      this.watched.delete(idx);
      return false;
    }
    return this.liveMap.current.shards.find((s) => s.idx === idx)?.leader === w.st.node;
  }

  /** hold fences `w`'s writes; with none taken once those in flight settled, its shard is marked behind. */
  private async hold(w: Watched, replica: string, seq: number): Promise<void> {
    const { st } = w;
    const idx = st.shard.idx;
    const r = await this.pool.call(st.worker, { type: 'fence', store: st.index, on: true });
    const last = r.type === 'fence-result' ? r.lastSeq : this.pool.lastSeq(st.index);
    if (last !== w.startSeq || !this.stillWatched(w)) {
      // A write landed first (it leads with it now: a replica ahead holds another history), or a
      // map moved the leader or the epoch meanwhile.
      this.watched.delete(idx);
      if (!this.liveMap.writesFenced(idx))
        await this.pool.call(st.worker, { type: 'fence', store: st.index, on: false });
      return;
    }
    this.liveMap.markBehind(idx, { replica, seq, leaderSeq: w.startSeq });
    this.log.error(
      { shard: st.shard.name, node: st.node, leader_seq: w.startSeq, replica, replica_seq: seq, dir: st.dir },
      `LEADER BEHIND: ${this.liveMap.behindError(idx)!.message}`,
    );
  }

  /** epochOf is shard `idx`'s epoch in the live map now. */
  private epochOf(idx: number): number {
    return this.liveMap.current.shards.find((s) => s.idx === idx)?.epoch ?? 0;
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
