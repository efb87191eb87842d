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
 * A replica's position is learnt from its node's `/cluster` (each lists its replica stores'
 * `acked_seq`) at the start's peer round, before this node serves, and at each check after
 * (`sighted`, through `fromPeer`). A position above `startSeq` holds the shard: the leader's worker
 * fences its writes (waiting for those in flight) and, if the store still took none, the shard is
 * marked behind (MapKeeper.markBehind): every request on it here is refused with LEADER_BEHIND,
 * naming the most advanced replica seen and the command that promotes it, and the replicas' pulls
 * too, so they keep their records. A failover that moves the leader away ends it.
 *
 * A replica in this process is read from the pool's positions as a peer's (`fromHere`: once the
 * stores are open, after the start's peer round, every PEER_CHECK_MS while a store is watched), and
 * its worker refuses its pulls ahead of a leader watched from its start (behind-here.ts). A pull
 * heard before `watch` (the stores opening) waits for it: answered then, a replica ahead of the
 * leader was told to resync (a ring's first pull comes then; so may a replica's in another process).
 *
 * A pull (`/_repl/pull`'s `after`, before the pull is answered: `pulled`) is a claim, not a
 * position: with no `server.token` anyone who reaches the node can send one naming a real replica,
 * and a claim alone held the shard until someone ran a failover. So a pull above `startSeq` fences
 * the writes as above (nothing is written while it is checked) and the replica's own node is asked
 * for that replica's `acked_seq` at once (behind-confirm.ts; a replica hosted in this process is
 * read here, no HTTP). Above `startSeq` there: the shard is held, at the position the node showed.
 * Otherwise (less, another config, not a node of the config, no answer within
 * CONFIRM_TIMEOUT_MS: a real replica that pulls is up) the fence is released, the shard is served,
 * a warning names the claim, the address it came from and why it was not confirmed, and that pull
 * alone is refused with LEADER_BEHIND (a pull above the leader's seq would be told REPLICA_AHEAD and
 * resync: a real replica keeps its records and asks again, and the peer check, every PEER_CHECK_MS,
 * reads its node anyway). One check per shard is in flight (a pull meanwhile waits for it and is
 * then refused or served, never checked again), and after a claim that was not confirmed the
 * shard's next claims are refused unchecked for a back-off (CLAIM_BACKOFF_MS, doubling to
 * CLAIM_BACKOFF_MAX_MS): forged pulls at request rate fence writes and ask a node at most once per
 * back-off. With a `server.token` pulls are authenticated (only nodes hold it) and a pull's claim
 * holds the shard as a peer's position does (`trustPulls`), as before.
 *
 * The watch ends once the leader takes a write: a replica found ahead of it after that holds
 * another history, answered as before (the leader's restart fork, leader-state.ts: the replica's
 * records go to its divergence file; docs/failover.md, "A leader that starts behind its replica").
 */
import type { Logger } from 'pino';
import { DistkvError } from '../errors.js';
import {
  type AskPosition,
  type Confirmation,
  replicaPositions,
  unconfirmedError,
  type WatchedStart,
} from './behind-confirm.js';
import { herePosition, herePositions, watchedFromStart } from './behind-here.js';
import type { MapKeeper } from './map-keeper.js';
import type { NodePlan } from './node-plan.js';
import { PEER_CHECK_MS } from './peer-check.js';
import type { WorkerPool } from './worker-pool.js';

/** Planned is a store of this node's plan, with its worker. */
type Planned = NodePlan['stores'][number];

/** Pool is what BehindLeaders asks of the worker pool. */
type Pool = Pick<WorkerPool, 'call' | 'lastSeq' | 'storeFailure'>;

/** CLAIM_BACKOFF_MS is how long a shard's pull claims go unchecked after one was not confirmed (doubling). */
export const CLAIM_BACKOFF_MS = 1000;
/** CLAIM_BACKOFF_MAX_MS bounds that back-off (the peer check reads a real replica's node meanwhile). */
export const CLAIM_BACKOFF_MAX_MS = 30000;

/** BehindOptions says how a pull's claim is checked (see above). */
export interface BehindOptions {
  /** ask asks a replica's node for its position (behind-confirm.ts); without it no other node confirms a claim. */
  ask?: AskPosition;
  /** trustPulls: pulls are authenticated (`server.token`), and a pull's claim holds the shard as a peer's position does. */
  trustPulls?: boolean;
  /** now is the clock of the back-off (ms; performance.now by default). */
  now?: () => number;
}

/** Backoff is a shard's back-off after a claim that was not confirmed. */
interface Backoff {
  until: number;
  ms: number;
}

/** Watched is a store watched since its start. */
export interface Watched extends WatchedStart {
  st: Planned;
  /** epoch is the shard's epoch the watch holds in; undefined: any (a store that started empty). */
  epoch: number | undefined;
}

/** BehindLeaders watches this node's stores from their start (see above). Main thread only. */
export class BehindLeaders {
  /** watched maps each watched shard to its store here. */
  private readonly watched = new Map<number, Watched>();
  /** checking is the check of each shard in flight: a second sighting waits for it. */
  private readonly checking = new Map<number, Promise<void>>();
  /** backoff holds the shards whose last pull claim was not confirmed (`pulled`). */
  private readonly backoff = new Map<number, Backoff>();
  /** stores are this node's stores (`watch`): a replica hosted here is read, not asked. */
  private stores: readonly Planned[] = [];
  /** armed is set by `watch` (or `stop`); `arming` resolves then: a pull heard before waits for it. */
  private armed = false;
  private readonly arming: Promise<void>;
  private arm: () => void = () => undefined;
  /** timer reads this process's replicas every PEER_CHECK_MS while a store is watched (`start`). */
  private timer: NodeJS.Timeout | undefined;
  private readonly liveMap: MapKeeper;
  private readonly pool: Pool;
  private readonly log: Logger;
  private readonly ask: AskPosition | undefined;
  private readonly trustPulls: boolean;
  private readonly now: () => number;

  constructor(liveMap: MapKeeper, pool: Pool, log: Logger, options: BehindOptions = {}) {
    this.liveMap = liveMap;
    this.pool = pool;
    this.log = log;
    this.ask = options.ask;
    this.trustPulls = options.trustPulls === true;
    this.now = options.now ?? (() => performance.now());
    this.arming = new Promise((resolve) => {
      this.arm = resolve;
    });
  }

  /**
   * watch starts watching the open stores `stores` (before the node serves): those in `empty`
   * (their directories did not exist before they opened) in any epoch; the others, unless
   * `lossy` (the last run stopped uncleanly in a mode that may lose synced-late records), in the
   * epoch their shard is in now.
   */
  watch(stores: readonly Planned[], empty: ReadonlySet<number>, lossy: boolean): void {
    this.stores = stores;
    this.armed = true;
    this.arm();
    for (const st of stores) {
      if (this.pool.storeFailure(st.index) !== undefined) continue;
      // One store per shard: a process hosting the leader and a replica of one shard watches the
      // leader's (the replica's, listed after it, took its place and the leader went unwatched).
      const leader = this.liveMap.current.shards.find((s) => s.idx === st.shard.idx)?.leader;
      if (this.watched.has(st.shard.idx) && st.node !== leader) continue;
      const startSeq = this.pool.lastSeq(st.index);
      if (empty.has(st.index)) this.watched.set(st.shard.idx, { st, startSeq, epoch: undefined });
      else if (watchedFromStart(st.index, empty, lossy))
        this.watched.set(st.shard.idx, { st, startSeq, epoch: this.epochOf(st.shard.idx) });
    }
  }

  /**
   * start reads this process's replicas every PEER_CHECK_MS (`fromHere`) until no store is
   * watched or `stop`: a map may make a watched store lead a shard a replica here holds.
   */
  start(): void {
    if (this.timer !== undefined || this.watched.size === 0) return;
    this.timer = setInterval(() => {
      if (this.watched.size === 0) {
        this.stop();
        return;
      }
      this.fromHere().catch((err: unknown) => {
        this.log.warn({ err: (err as Error).message }, "reading this process's replica positions failed");
      });
    }, PEER_CHECK_MS);
    this.timer.unref();
  }

  /** stop ends `start`'s reads, and the wait of pulls heard before `watch` (the node stops). */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.armed = true;
    this.arm();
  }

  /**
   * fromHere reads the positions of this process's replica stores (behind-here.ts) as a peer's;
   * resolves once every shard they show ahead of a watched leader here is checked.
   */
  async fromHere(): Promise<void> {
    // A store that took a write is watched no more (so `start`'s reads end once all did).
    for (const w of [...this.watched.values()]) this.stillWatched(w);
    if (this.watched.size === 0) return;
    const shards = new Set(this.watched.keys());
    for (const { idx, address, seq } of herePositions(this.stores, shards, this.liveMap, this.pool))
      await this.sighted(idx, address, seq);
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
   * pulled is told by a pull from `from` (the client's address) that `replica` holds shard `idx`
   * through `seq` (its `after`): a claim (see above). It returns undefined when there is nothing to
   * check (the common case: the pull goes on at once, or is refused as held), else a promise of the
   * refusal for that pull: undefined once the shard is held (the route refuses it as held) or leads
   * with a write since (the pull is served), LEADER_BEHIND for that pull alone when the claim was not
   * confirmed (the shard is served).
   */
  pulled(
    idx: number,
    replica: string,
    seq: number,
    from: string,
  ): Promise<DistkvError | undefined> | undefined {
    if (!this.armed) return this.arming.then(() => this.pulled(idx, replica, seq, from));
    if (this.watched.size === 0) return undefined;
    const w = this.watched.get(idx);
    if (w === undefined || seq <= w.startSeq) return undefined;
    if (this.trustPulls) return this.sighted(idx, replica, seq)?.then(() => undefined);
    // Held already: refused as such, and a claim does not rename the replica the refusal names.
    if (this.liveMap.behindOf(idx) !== undefined || !this.stillWatched(w)) return undefined;
    return this.claim(w, replica, seq, from);
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
    if (await this.fenceFresh(w)) this.markHeld(w, replica, seq);
  }

  /**
   * fenceFresh fences `w`'s writes and tells whether, once those in flight settled, it took none
   * and still leads here; if not, its watch and the fence end.
   */
  private async fenceFresh(w: Watched): Promise<boolean> {
    const { st } = w;
    const r = await this.pool.call(st.worker, { type: 'fence', store: st.index, on: true });
    const last = r.type === 'fence-result' ? r.lastSeq : this.pool.lastSeq(st.index);
    if (last === w.startSeq && this.stillWatched(w)) return true;
    // A write landed first (it leads with it now: a replica ahead holds another history), or a
    // map moved the leader or the epoch meanwhile.
    await this.release(w);
    return false;
  }

  /** claim checks a pull's claim (`pulled`): one check per shard at a time, none within a back-off. */
  private async claim(
    w: Watched,
    replica: string,
    seq: number,
    from: string,
  ): Promise<DistkvError | undefined> {
    const idx = w.st.shard.idx;
    const running = this.checking.get(idx);
    if (running !== undefined) {
      // A check is under way (a peer's position, or another claim): its outcome answers this pull.
      await running;
      if (this.liveMap.behindOf(idx) !== undefined || !this.stillWatched(w)) return undefined;
      return unconfirmedError(
        w,
        replica,
        seq,
        'another claim on the shard was being checked and was not confirmed',
      );
    }
    const b = this.backoff.get(idx);
    if (b !== undefined && this.now() < b.until)
      return unconfirmedError(
        w,
        replica,
        seq,
        `a claim on the shard was not confirmed less than ${String(b.ms)} ms ago; the claims are checked again after that`,
      );
    const check = this.confirm(w, replica, seq, from);
    this.checking.set(
      idx,
      check.then(
        () => undefined,
        () => undefined,
      ),
    );
    try {
      return await check;
    } finally {
      this.checking.delete(idx);
    }
  }

  /**
   * confirm fences `w`'s writes and asks `replica`'s node for its position: above the leader's, the
   * shard is held; else the fence is released, the shard backed off, and the claim refused alone.
   */
  private async confirm(
    w: Watched,
    replica: string,
    seq: number,
    from: string,
  ): Promise<DistkvError | undefined> {
    const { st } = w;
    const idx = st.shard.idx;
    if (!(await this.fenceFresh(w))) return undefined;
    const pos = await this.positionOf(replica, idx);
    if (!this.stillWatched(w)) {
      // A map moved the leader or the epoch while the node was asked.
      await this.release(w);
      return undefined;
    }
    if ('seq' in pos && pos.seq > w.startSeq) {
      this.backoff.delete(idx);
      this.markHeld(w, replica, pos.seq);
      return undefined;
    }
    await this.unfence(w);
    const ms = Math.min(CLAIM_BACKOFF_MAX_MS, 2 * (this.backoff.get(idx)?.ms ?? CLAIM_BACKOFF_MS / 2));
    this.backoff.set(idx, { until: this.now() + ms, ms });
    const reason =
      'seq' in pos
        ? `its node shows it at seq ${String(pos.seq)}, not above the leader's ${String(w.startSeq)}`
        : pos.reason;
    this.log.warn(
      {
        shard: st.shard.name,
        node: st.node,
        leader_seq: w.startSeq,
        replica,
        claimed_seq: seq,
        from,
        reason,
        backoff_ms: ms,
      },
      `a pull from ${from} claimed that replica ${replica} of ${st.shard.name} holds records through seq ${String(seq)}, above this leader's ${String(w.startSeq)}; not confirmed (${reason}): the shard is served and that pull refused (a pull's claim alone holds no shard: anyone who reaches the node can send one without a server.token)`,
    );
    return unconfirmedError(w, replica, seq, reason);
  }

  /** positionOf is `replica`'s position of shard `idx`: read here when this process hosts it, else asked of its node. */
  private async positionOf(replica: string, idx: number): Promise<Confirmation> {
    const here = herePosition(this.stores, this.pool, replica, idx);
    if (here !== undefined) return here;
    if (this.ask === undefined) return { reason: 'no node is asked to confirm a claim here' };
    // An ask that fails confirms nothing: the fence is released all the same.
    return this.ask(replica, idx).catch((err: unknown) => ({
      reason: `asking its node failed: ${(err as Error).message}`,
    }));
  }

  /** release ends the watch of `w`, which leads with a write or leads no more, and its fence unless the map holds its writes. */
  private async release(w: Watched): Promise<void> {
    this.watched.delete(w.st.shard.idx);
    await this.unfence(w);
  }

  /** unfence lifts `w`'s fence unless the map holds its shard's writes. */
  private async unfence(w: Watched): Promise<void> {
    const { st } = w;
    if (!this.liveMap.writesFenced(st.shard.idx))
      await this.pool.call(st.worker, { type: 'fence', store: st.index, on: false });
  }

  /** markHeld marks `w`'s shard behind `replica` at `seq` and says so. */
  private markHeld(w: Watched, replica: string, seq: number): void {
    const { st } = w;
    const idx = st.shard.idx;
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
