/**
 * MapKeeper: the main thread's owner of the live map (src/routing/live-map.ts).
 *
 * It loads the persisted map at start, adopts any valid successor it is given (by a peer's
 * `/cluster` in the peer checks, or `POST /_admin/map`; with etcd, by etcd), persists it before acting on
 * it, turns the hosted stores over to their new roles and rebuilds the routing tables
 * (store-turnover.ts).
 *
 * Write fencing: while a shard's stores change role, and while an operator's planned failover holds
 * it (`fence`, failover-fences.ts), writes to that shard are answered 503 with Retry-After
 * (SWITCHING_LEADER), never executed: a store must not take writes while its role is changing, and
 * the old leader must not take writes its successor has not copied. Adoptions run one at a time, in arrival order.
 *
 * With a coordinator (`[coordination] etcd`, src/coordination/etcd-coordinator.ts) a leader also
 * needs its lease: writes are fenced whenever the coordinator says this process may not write the
 * shard, and a map proposed through `POST /_admin/map` goes to etcd first (etcd orders map versions;
 * peers' maps are not adopted, etcd's are).
 *
 * A leader here found behind a replica of its shard (behind-leaders.ts: it started on an empty or
 * older store while the replica holds more) is held for good (`markBehind`): every request on the shard here
 * is refused with LEADER_BEHIND until a map moves the shard's leader away (`distkv failover --to`).
 *
 * Without a coordinator, leaders restarting after an unclean stop raise their shards' epochs on
 * their own (restart-epochs.ts), so two maps may share a version: a map no newer than this one
 * that extends some of its shards is merged into it (`mergedMap`, a version above both), and the
 * nodes converge on the union.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { DistkvError } from '../errors.js';
import { checkSuccessor, type LiveMap, liveShardInfos, parseLiveMap } from '../routing/live-map.js';
import { type Adoption, adoption, mergedMap, sameShards } from '../routing/map-merge.js';
import type { StoreSpec } from '../worker/messages.js';
import type { ShardInfo } from '../routing/shard-map.js';
import { readLiveMap, saveLiveMap } from './live-map-file.js';
import { FailoverFences } from './failover-fences.js';
import type { NodePlan } from './node-plan.js';
import {
  type RemovedLeader,
  removedLeaderError,
  savedRemovedLeaders,
  unresolved,
} from './removed-leaders.js';
import { StoreHolds } from './store-holds.js';
import { roleChanges, turnOverStores } from './store-turnover.js';
import type { WorkerPool } from './worker-pool.js';

/**
 * etcdAdoption is how a node with a coordinator takes `offered`, a newer map from etcd: a successor
 * as it is; else the merge of two maps made apart from etcd (src/coordination/map-sync.ts) when it
 * is exactly `offered` (it won over this node's entries by the merge rule: they fork); else
 * INVALID_ARGUMENT with checkSuccessor's reasons.
 */
function etcdAdoption(current: LiveMap, offered: LiveMap): Adoption {
  const merged = mergedMap(current, offered);
  if (merged !== undefined && sameShards(merged.map, offered)) {
    checkSuccessor(current, offered, merged.forks);
    return { map: offered, rewritten: merged.forks };
  }
  checkSuccessor(current, offered);
  return { map: offered, rewritten: new Map() };
}

/** Coordination is what the keeper asks of a coordinator (src/coordination/etcd-coordinator.ts). */
export interface Coordination {
  /** mayWrite tells whether this process holds shard `idx`'s leadership right now (its lease). */
  mayWrite(idx: number): boolean;
  /** publish stores a successor map in the coordinator; resolves with the map it holds afterwards. */
  publish(map: LiveMap): Promise<LiveMap>;
  /**
   * handsOver tells whether shard `idx`'s leader here, held behind a replica, gave up its leader key
   * so the replica ahead takes the shard over by itself (src/coordination/behind-resign.ts).
   */
  handsOver(idx: number): boolean;
}

/** leaselessReadMessage explains a read refused at a leader whose lease has lapsed (HTTP and RESP). */
export function leaselessReadMessage(shard: number): string {
  return `shard ${shard}'s leader here has no lease, and a replica may have taken over: retry shortly, or read a replica (stale reads, X-Distkv-Lag)`;
}

/** heldReadMessage explains a read refused at a leader whose writes a failover holds (HTTP). */
export function heldReadMessage(shard: number): string {
  return `shard ${shard}'s leader is being switched, and the new leader may already take writes: retry shortly, or read a replica (stale reads, X-Distkv-Lag)`;
}

/**
 * readsHeld tells whether a store of role `role` here must not answer reads of shard `idx` because
 * its writes are held (`writesFenced`: a planned failover's fence, a map being adopted, no lease).
 * Such a leader may have been replaced already: a failover's target takes writes once it has the
 * new map, which this node hears of a post (or a peer poll) later (docs/failover.md), and a read
 * served meanwhile could be older than a write the new leader acknowledged. Replicas still serve.
 */
export function readsHeld(
  keeper: Pick<MapKeeper, 'writesFenced'>,
  role: 'leader' | 'replica' | undefined,
  idx: number,
): boolean {
  return role === 'leader' && keeper.writesFenced(idx);
}

/** leaselessWriteMessage explains a write refused at a leader whose lease has lapsed (RESP; HTTP holds it as switching). */
export function leaselessWriteMessage(shard: number): string {
  return `shard ${shard}'s leader here has no lease, and a replica may have taken over: retry shortly`;
}

/** BehindReplica is the replica a leader here was found behind (behind-leaders.ts), its position and the leader's. */
export interface BehindReplica {
  replica: string;
  seq: number;
  /** leaderSeq is the leader's last seq, which it started with (0: it started empty). */
  leaderSeq: number;
}

/** behindMessage explains why shard `idx` (`name`) is refused at a leader behind replica `b` (LEADER_BEHIND), and what to do. */
function behindMessage(idx: number, name: string, b: BehindReplica): string {
  return `shard ${idx}'s leader here ${startedAs(b)}, but its replica ${b.replica} holds records through seq ${b.seq}: served, it would answer without them and its replicas would drop their copy. Not executed: promote the replica with \`distkv failover --shard ${name} --to ${b.replica}\` (this node then copies the shard from it)`;
}

/** handOverMessage explains a request refused at a leader behind replica `b` that gave up its leader key in etcd (SWITCHING_LEADER). */
function handOverMessage(idx: number, b: BehindReplica): string {
  return `shard ${idx}'s leader here ${startedAs(b)}, but a replica holds more (${b.replica} through seq ${b.seq}): it gave up its leader key in etcd, and the most advanced replica takes the shard over. Not executed: retry shortly (this node then copies the shard)`;
}

/** startedAs says how a leader held behind replica `b` started: on an empty store, or an older one. */
function startedAs(b: BehindReplica): string {
  return b.leaderSeq === 0
    ? 'started on an empty store'
    : `started with records through seq ${b.leaderSeq} only (its data directory put back from an older copy?)`;
}

/** MapKeeper holds, persists and applies this process's live map. */
export class MapKeeper {
  private map: LiveMap;
  private readonly config: Config;
  private readonly log: Logger;
  private plan: NodePlan | undefined;
  private pool: WorkerPool | undefined;
  /** switching holds shards whose stores are changing role. */
  private readonly switching = new Set<number>();
  /** fences are the holds of planned failovers on leaders' writes here (failover-fences.ts). */
  private readonly fences: FailoverFences;
  private queue: Promise<unknown> = Promise.resolve();
  private coordination: Coordination | undefined;
  /** holds are the owners of this process's replica stores' holds (`distkv failover`'s claims among them). */
  readonly holds = new StoreHolds(() => {
    if (this.pool === undefined) throw new DistkvError('UNAVAILABLE', 'the node is starting');
    return this.pool;
  });
  /** behind holds the shards whose leader here is behind a replica (`markBehind`), with that replica's position. */
  private readonly behind = new Map<number, BehindReplica>();
  /** conflictSeen is the version of the last peer map logged as conflicting with this one. */
  private conflictSeen = 0;
  /**
   * early is what was adopted before `attach`, while the node starts (its `/cluster` and
   * `POST /_admin/map` answer then, and a peer's map may come with them): the map the plan was made
   * from, and the forks the adoptions named. The stores open as that plan has them; `attach` turns
   * them over to the map adopted since. Before, such a map was saved and routed by, but the stores
   * kept the roles of the older one (a replica pulling from a former leader, answered WRONG_NODE).
   */
  private early: { previous: LiveMap; rewritten: Map<number, number> } | undefined;
  /** removed are the shards whose saved leader the config no longer lists (removed-leaders.ts). */
  private readonly removed: RemovedLeader[];
  /** refit is the map loaded as a refit of a file of another config, until saved (`saveRefit`). */
  private refit: LiveMap | undefined;

  constructor(config: Config, log: Logger) {
    this.config = config;
    this.log = log;
    this.fences = new FailoverFences(log);
    const loaded = readLiveMap(config.server.data_dir, config.shards, log);
    this.map = loaded.map;
    if (loaded.refit) this.refit = loaded.map;
    this.removed = savedRemovedLeaders(config.server.data_dir, config.shards);
  }

  /**
   * saveRefit saves the map refitted to an edited config (live-map-file.ts) when it is still the
   * one routed with, once the start holds the data directory and asked etcd and the peers (a newer
   * map was saved as it was adopted) and no shard's saved leader was removed (the saved map is
   * that refusal's evidence): it is what every later start would compute again from the old file,
   * kept at the old file's version, so saving it changes only that they no longer warn
   * (docs/failover.md, "A rolling config change").
   */
  saveRefit(): void {
    const refit = this.refit;
    this.refit = undefined;
    if (refit === undefined || refit !== this.map || this.removedLeaders().length > 0) return;
    saveLiveMap(this.config.server.data_dir, refit);
    this.log.info(
      { version: refit.version },
      `saved the live map adjusted to the config's members (version ${String(refit.version)})`,
    );
  }

  /**
   * removedLeaders are the shards whose leader in the saved map the config no longer lists, while
   * the map routed with now has not moved them on (removed-leaders.ts): the start refuses them
   * (`refuseRemovedLeaders`), and until then the coordinator acts on no shard and writes no map.
   */
  removedLeaders(): RemovedLeader[] {
    return unresolved(this.removed, this.map);
  }

  /**
   * refuseRemovedLeaders throws CONFIG_INVALID naming each shard of `removedLeaders`, its leader and
   * the failover that moves it; the start calls it once etcd and the peers were asked for a newer map.
   */
  refuseRemovedLeaders(): void {
    const removed = this.removedLeaders();
    if (removed.length > 0) throw removedLeaderError(removed);
  }

  /** current is the map this process routes with. */
  get current(): LiveMap {
    return this.map;
  }

  /** shards are the config's shards with the live leaders and replicas. */
  shards(): ShardInfo[] {
    return liveShardInfos(this.config.shards, this.map);
  }

  /**
   * stamp writes each shard's epoch and history into the specs of its stores, so a leader writes
   * its log in its epoch and a replica checks its leader's (docs/wal-format.md, "Epoch history").
   */
  stamp(stores: readonly StoreSpec[]): void {
    for (const st of stores) {
      const s = this.map.shards.find((x) => x.idx === st.shard.idx);
      st.epoch = s?.epoch ?? 0;
      st.history = (s?.history ?? []).map((h) => ({ ...h }));
    }
  }

  /** attach connects the keeper to the running plan and workers (before the node serves). */
  attach(plan: NodePlan, pool: WorkerPool): void {
    this.plan = plan;
    this.pool = pool;
    const early = this.early;
    if (early === undefined) return;
    this.early = undefined;
    // Before any map offered from now on: the stores turn over to what was adopted while starting.
    // Writes to the shards it moves wait (SWITCHING_LEADER) until then.
    const marked = movedShards(early.previous, this.map).map((s) => s.idx);
    for (const idx of marked) this.switching.add(idx);
    const next = this.queue.then(async () => {
      try {
        await this.turnOver(early.previous, this.map, early.rewritten);
      } finally {
        for (const idx of marked) this.switching.delete(idx);
      }
    });
    this.queue = next.catch((err: unknown) => {
      this.log.error({ err }, 'turning the stores over to the live map adopted while starting failed');
    });
  }

  /** coordinate puts this process's leadership under `c` (before the node serves). */
  coordinate(c: Coordination): void {
    this.coordination = c;
  }

  /** writesFenced tells whether writes to shard `idx` must wait (503 with Retry-After). */
  writesFenced(idx: number): boolean {
    return (
      this.fences.has(idx) ||
      this.behind.has(idx) ||
      this.switching.has(idx) ||
      (this.coordination !== undefined && !this.coordination.mayWrite(idx))
    );
  }

  /**
   * markBehind holds shard `idx` here for good: its leader here started behind (on an empty or older store) while
   * `replica` holds records through `seq` (behind-leaders.ts). A map that moves the leader away ends it.
   */
  markBehind(idx: number, replica: BehindReplica): void {
    this.behind.set(idx, replica);
  }

  /** behindOf is the replica shard `idx`'s leader here is behind (markBehind), if any. */
  behindOf(idx: number): BehindReplica | undefined {
    return this.behind.get(idx);
  }

  /** handsOver tells whether shard `idx`'s leader here, held behind a replica, gave up its leader key in etcd for the replica to take over. */
  handsOver(idx: number): boolean {
    return this.coordination?.handsOver(idx) === true;
  }

  /**
   * behindError is the refusal for a request on shard `idx` whose leader here is behind a replica
   * (markBehind), else undefined: every request there, read or write, is refused. LEADER_BEHIND
   * names the command that promotes the replica; once the coordinator gave up the shard's leader
   * key for a replica to take over (`handsOver`), it is SWITCHING_LEADER, which clients wait out.
   */
  behindError(idx: number): DistkvError | undefined {
    const b = this.behind.get(idx);
    if (b === undefined) return undefined;
    if (this.handsOver(idx)) return new DistkvError('SWITCHING_LEADER', handOverMessage(idx, b));
    const name = this.config.shards.find((s) => s.idx === idx)?.name ?? String(idx);
    return new DistkvError('LEADER_BEHIND', behindMessage(idx, name, b));
  }

  /**
   * leaderWithoutLease tells whether a store of role `role` here is shard `idx`'s leader without its
   * lease: a replica may lead the shard now, so it serves neither reads nor watches (docs/failover.md).
   */
  leaderWithoutLease(role: 'leader' | 'replica', idx: number): boolean {
    return role === 'leader' && this.leaseless(idx);
  }

  /** leaseless tells whether a coordinator runs and this process does not hold shard `idx`'s leadership. */
  leaseless(idx: number): boolean {
    return this.coordination !== undefined && !this.coordination.mayWrite(idx);
  }

  /**
   * fence holds (or releases) writes to shard `idx` for a planned failover `by`; returns whether it
   * acted. The hold runs out after `ms` (then `onExpire`); another failover's hold or release is
   * refused with MAP_CHANGED while it holds (FailoverFences.set, failover-fences.ts).
   */
  fence(idx: number, on: boolean, ms: number, onExpire: () => void, by?: string): boolean {
    return this.fences.set(idx, on, ms, onExpire, by);
  }

  /**
   * claimOf names the failover that claims shard `idx` at this process: the one holding its
   * leader's writes, or a claim on one of its replica stores (store-holds.ts).
   */
  claimOf(idx: number): string | undefined {
    const leader = this.fences.ownerOf(idx);
    if (leader !== undefined) return leader;
    for (const st of this.plan?.stores ?? [])
      if (st.shard.idx === idx) {
        const c = this.holds.claimant(st.index);
        if (c !== undefined) return c.owner;
      }
    return undefined;
  }

  /**
   * offer adopts `doc` when it is a valid map with a higher version; resolves with whether it did.
   * An invalid map throws INVALID_ARGUMENT; an older or equal one is ignored.
   */
  offer(doc: unknown, from: string): Promise<boolean> {
    const next = this.queue.then(() => this.adopt(doc, from));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /**
   * propose is `offer` for a map an operator publishes (`POST /_admin/map`): with a coordinator, the
   * map is stored there first (compare-and-swap), so every node adopts it from one place. A map
   * that moves a shard another failover claims here (`claimOf`; `by` names the proposer's) is
   * refused with MAP_CHANGED: that failover decides, this one changed nothing. What is checked is
   * what the map would change here: without a coordinator the map this node would adopt (a merge
   * keeps this node's newer entry for a shard the proposer's failover of another shard did not
   * see change, but lets a change of leader beat restart epochs whatever their numbers:
   * test/unit/failover-other-shard-map); with one, the map itself, where an entry older than this
   * node's (a lower epoch) moves nothing (checkSuccessor refuses it). So another shard's failover
   * that published first refuses it no more (docs/failover.md, "Who holds a shard").
   */
  async propose(doc: unknown, from: string, by?: string): Promise<boolean> {
    const map = parseLiveMap(doc, this.config.shards);
    const merged = this.coordination === undefined;
    for (const s of (merged ? this.adopted(map) : map).shards) {
      const mine = this.map.shards.find((p) => p.idx === s.idx);
      if (mine?.leader === s.leader || (!merged && mine !== undefined && s.epoch < mine.epoch)) continue;
      const claim = this.claimOf(s.idx);
      if (claim !== undefined && claim !== by)
        throw new DistkvError(
          'MAP_CHANGED',
          `${s.name} is claimed here by another failover (${claim}): it moves the leader or lets go (at the latest when its hold runs out); this map was not adopted, run the failover again after if still needed`,
        );
    }
    if (this.coordination === undefined) return this.offer(map, from);
    if (map.version <= this.map.version) return false;
    checkSuccessor(this.map, map);
    return this.offer(await this.coordination.publish(map), from);
  }

  /**
   * adopted is the map this node would hold after offering it `map` (no coordinator): this node's
   * own when it would take nothing, `map` itself when it would refuse it (the offer says why).
   */
  private adopted(map: LiveMap): LiveMap {
    try {
      return adoption(this.map, map)?.map ?? this.map;
    } catch {
      return map;
    }
  }

  /** settled resolves once the adoptions queued so far have ended (saved and applied, or failed). */
  settled(): Promise<void> {
    return this.queue.then(() => undefined);
  }

  /**
   * warnIfConflict logs (once per version) a map of this map's version that holds other shard
   * entries, unless its sender resolves it by merging this one (a leader change beating restarts).
   */
  private warnIfConflict(map: LiveMap, from: string): void {
    if (map.version !== this.map.version || this.conflictSeen === map.version) return;
    if (sameShards(map, this.map)) return;
    if (mergedMap(map, this.map) !== undefined) return;
    this.conflictSeen = map.version;
    this.log.error(
      { from, version: map.version, theirs: map.shards, mine: this.map.shards },
      `live map version ${map.version} from ${from} differs from this node's and neither extends the other: two changes of a shard were made without seeing each other (e.g. a failover while its old leader, restarting after a crash, reached no peer); run \`distkv failover\` for that shard to publish a newer map`,
    );
  }

  private async adopt(doc: unknown, from: string): Promise<boolean> {
    const offered = parseLiveMap(doc, this.config.shards);
    // With a coordinator etcd orders the maps: only a newer map is taken, as it is. Without, maps
    // made apart are merged (map-merge.ts); `rewritten` names the shards whose restart epochs here
    // a leader change beat, with the seq their stores fork at.
    let taken: Adoption | undefined;
    if (this.coordination !== undefined) {
      if (offered.version <= this.map.version) return false;
      taken = etcdAdoption(this.map, offered);
    } else taken = adoption(this.map, offered);
    if (taken === undefined) {
      this.warnIfConflict(offered, from);
      return false;
    }
    const { map, rewritten } = taken;
    saveLiveMap(this.config.server.data_dir, map);
    const previous = this.map;
    this.map = map;
    const moved = movedShards(previous, map);
    this.log.warn(
      {
        from,
        version: map.version,
        moved: moved.map((s) => ({ shard: s.name, leader: s.leader, epoch: s.epoch })),
      },
      `adopted live map version ${map.version} from ${from}` +
        (moved.length === 0
          ? ''
          : `: ${moved.map((s) => `${s.name} led by ${s.leader} in epoch ${s.epoch}`).join(', ')}`),
    );
    if (this.plan === undefined || this.pool === undefined) {
      this.early ??= { previous, rewritten: new Map() };
      for (const [idx, seq] of rewritten)
        this.early.rewritten.set(idx, Math.min(seq, this.early.rewritten.get(idx) ?? seq));
      return true;
    }
    await this.turnOver(previous, map, rewritten);
    return true;
  }

  /** turnOver turns the hosted stores over from their roles under `previous` to those under `map`, holding writes to the shards it moves. */
  private async turnOver(
    previous: LiveMap,
    map: LiveMap,
    rewritten: ReadonlyMap<number, number>,
  ): Promise<void> {
    if (this.plan === undefined || this.pool === undefined) return;
    const moved = movedShards(previous, map);
    for (const s of moved) {
      this.behind.delete(s.idx);
      this.switching.add(s.idx);
      this.fences.drop(s.idx);
    }
    try {
      this.stamp(this.plan.stores);
      const turnover = roleChanges(this.plan, this.config, previous, map, rewritten);
      await turnOverStores(turnover, this.pool, this.holds, this.log);
    } finally {
      for (const s of moved) this.switching.delete(s.idx);
    }
  }
}

/** movedShards are the shards of `map` whose leader is not the one `previous` names. */
function movedShards(previous: LiveMap, map: LiveMap): LiveMap['shards'] {
  return map.shards.filter((s) => previous.shards.find((p) => p.idx === s.idx)?.leader !== s.leader);
}
