/**
 * EtcdCoordinator: automatic failover with etcd (docs/failover.md, "Automatic failover with etcd").
 *
 * Keys, under `/distkv/<cluster>/` (`[coordination] cluster`, default the config's topology hash):
 *   map                   the live map (src/routing/live-map.ts) as JSON; every change is a
 *                         compare-and-swap on its mod revision, so etcd orders map versions
 *   leader/<shard>        the address of the shard's leader, under that node's lease
 *   seq/<shard>/<node>    the durable seq of the node's store of that shard, under its lease
 *
 * One lease per process, kept alive every TTL/4 by its own keepalives. A leader store may take writes
 * only while this process holds its shard's leader key AND its own lease deadline (lease-deadline.ts:
 * last successful keepalive's send time + TTL - drift margin) has not passed: the deadline comes
 * before etcd can expire the key, so before any other node can win it (`mayWrite`, checked by the
 * main thread on every write; the store's worker is fenced too once the loop sees the deadline).
 *
 * Every TTL/4 (and at once on a change of the map or of a leader key, through a watch) the loop
 * reads the prefix and reconciles: it adopts a newer map from etcd (etcd wins over peer gossip),
 * publishes its stores' seqs, (re)takes the leader key of each shard the map says it leads, and for
 * each shard it replicates whose leader key is gone, campaigns if it ranks first (candidate-rank.ts).
 * The winner's epoch is its key's create revision, a fencing token no earlier leader can hold; it
 * publishes map version+1 naming it leader in that epoch with `firstSeq = its durable seq + 1`, then
 * promotes itself through the map keeper like any adopted map. A former leader learns the map from
 * etcd before it serves again (`start`) and rejoins as a replica (fork point, divergence file).
 */
import { Etcd3, EtcdLeaseInvalidError, type IKeyValue, type Lease, type Watcher } from 'etcd3';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { type LiveMap, type LiveShard, parseLiveMap } from '../routing/live-map.js';
import type { MapKeeper } from '../server/map-keeper.js';
import type { NodePlan } from '../server/node-plan.js';
import type { WorkerPool } from '../server/worker-pool.js';
import { ranksFirst, type Published } from './candidate-rank.js';
import { LeaseDeadline } from './lease-deadline.js';

/** CALL_TIMEOUT_MS bounds each etcd call so a lost etcd never stalls the loop. */
const CALL_TIMEOUT_MS = 1000;
/** START_ATTEMPTS bounds the tries to reach etcd and reconcile once before the node serves. */
const START_ATTEMPTS = 10;
/** CAS_ATTEMPTS bounds how often a map change is retried when another change raced it. */
const CAS_ATTEMPTS = 4;

interface Snapshot {
  map: { doc: unknown; modRevision: string } | undefined;
  leaders: Map<string, IKeyValue>;
  seqs: Map<string, Published[]>;
}

/** EtcdCoordinator runs this process's side of leader election; see the design block above. */
export class EtcdCoordinator {
  private readonly etcd: Etcd3;
  private readonly prefix: string;
  private readonly ttlMs: number;
  private readonly deadline = new LeaseDeadline();
  private lease: Lease | undefined;
  private leaseId: string | undefined;
  /** held are the shards whose leader key this process holds under its current lease. */
  private readonly held = new Set<number>();
  /** workerFenced are the leader stores this loop fenced at their worker. */
  private readonly workerFenced = new Set<number>();
  private readonly published = new Map<string, number>();
  /** absentSince holds, per shard, when this process first saw its leader key missing. */
  private readonly absentSince = new Map<number, number>();
  /** seenHeld are the shards whose leader key this process has seen held since it started. */
  private readonly seenHeld = new Set<number>();
  private readonly tickMs: number;
  /** grantedAt is when the current lease was granted. */
  private grantedAt = 0;
  private watcher: Watcher | undefined;
  private timers: NodeJS.Timeout[] = [];
  private ticking: Promise<void> | undefined;
  private again = false;
  private granting = false;
  private stopped = false;
  private lastError = '';

  private readonly config: Config;
  private readonly keeper: MapKeeper;
  private readonly plan: NodePlan;
  private readonly pool: WorkerPool;
  private readonly log: Logger;

  constructor(
    config: Config,
    keeper: MapKeeper,
    plan: NodePlan,
    pool: WorkerPool,
    log: Logger,
    clusterName: string,
  ) {
    this.config = config;
    this.keeper = keeper;
    this.plan = plan;
    this.pool = pool;
    this.log = log;
    this.etcd = new Etcd3({ hosts: config.coordination.etcd, dialTimeout: CALL_TIMEOUT_MS });
    this.prefix = `/distkv/${clusterName}/`;
    this.ttlMs = config.coordination.lease_ttl_ms;
    this.tickMs = Math.max(50, Math.floor(this.ttlMs / 4));
  }

  private get mapKey(): string {
    return `${this.prefix}map`;
  }

  private leaderKey(shard: string): string {
    return `${this.prefix}leader/${shard}`;
  }

  private seqKey(shard: string, node: string): string {
    return `${this.prefix}seq/${shard}/${node}`;
  }

  private opts(): { deadline: number } {
    return { deadline: Date.now() + CALL_TIMEOUT_MS };
  }

  /** mayWrite tells whether this process may execute writes to shard `idx` as its leader now. */
  mayWrite(idx: number): boolean {
    return this.held.has(idx) && this.deadline.valid();
  }

  /**
   * start takes a lease, adopts etcd's map and takes the leader keys this process is due, before
   * the node serves; then keeps doing so. It throws when etcd does not answer.
   */
  async start(): Promise<void> {
    const keeper = setInterval(() => void this.keepalive(), this.tickMs);
    keeper.unref();
    this.timers.push(keeper);
    for (let attempt = 1; ; attempt++) {
      await this.keepalive();
      try {
        if (this.leaseId === undefined) throw new Error(this.lastError);
        await this.tick();
        break;
      } catch (err) {
        // A lease that expired while the process was starting (a loaded machine): take a new one.
        if (err instanceof EtcdLeaseInvalidError) this.dropLease();
        if (attempt >= START_ATTEMPTS)
          throw new Error(
            `etcd ${this.config.coordination.etcd.join(', ')} (coordination): ${(err as Error).message}`,
          );
        await new Promise((r) => setTimeout(r, this.tickMs));
      }
    }
    const ticker = setInterval(() => {
      this.kick();
    }, this.tickMs);
    ticker.unref();
    this.timers.push(ticker);
    this.watcher = await this.etcd.watch().prefix(this.prefix).create();
    const onChange = (kv: IKeyValue): void => {
      if (!kv.key.toString().startsWith(`${this.prefix}seq/`)) this.kick();
    };
    this.watcher.on('put', onChange).on('delete', onChange);
    this.watcher.on('error', (err) => {
      this.log.debug({ err: err.message }, 'etcd watch error');
    });
  }

  /** stop ends the loop and revokes the lease, so the leader keys go at once (a replica takes over). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    await this.ticking;
    await this.watcher?.cancel().catch(() => undefined);
    this.held.clear();
    await this.lease?.revoke(this.opts()).catch(() => undefined);
    this.etcd.close();
  }

  /**
   * publish writes `map` to etcd when it is newer than etcd's (compare-and-swap) and resolves with
   * the map etcd holds afterwards: `map`, or the one another change stored first at that version or
   * above (so every node adopts the same map). It throws when etcd's map is older yet changed meanwhile.
   */
  async publish(map: LiveMap): Promise<LiveMap> {
    const snap = await this.read();
    const theirs = snap.map === undefined ? undefined : this.parse(snap.map.doc);
    if (theirs !== undefined && theirs.version >= map.version) return theirs;
    if (await this.swapMap(map, snap.map?.modRevision)) return map;
    const now = await this.read();
    const won = now.map === undefined ? undefined : this.parse(now.map.doc);
    if (won !== undefined && won.version >= map.version) return won;
    throw new Error('the live map in etcd changed meanwhile; retry');
  }

  private kick(): void {
    if (this.stopped) return;
    if (this.ticking !== undefined) {
      this.again = true;
      return;
    }
    this.ticking = this.tick()
      .catch((err: unknown) => {
        if (err instanceof EtcdLeaseInvalidError) this.dropLease();
        this.warnOnce(`etcd coordination: ${(err as Error).message}`);
      })
      .finally(() => {
        this.ticking = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  private warnOnce(message: string): void {
    if (message === this.lastError) return;
    this.lastError = message;
    this.log.warn(message);
  }

  /**
   * keepalive grants the lease when there is none, else renews it and moves the deadline. Renewals
   * do not wait for each other (each is bounded by CALL_TIMEOUT_MS): one slow answer must not hold
   * back the next keepalive and let the deadline pass on a loaded machine.
   */
  private async keepalive(): Promise<void> {
    if (this.stopped) return;
    const lease = this.lease;
    if (lease === undefined) {
      await this.grant();
      return;
    }
    const sentAt = performance.now();
    try {
      const r = await lease.keepaliveOnce(this.opts());
      if (this.lease === lease) this.deadline.renewed(sentAt, Number(r.TTL) * 1000);
    } catch (err) {
      if (this.lease !== lease) return;
      if (err instanceof EtcdLeaseInvalidError) {
        this.dropLease();
        this.kick();
      } else this.warnOnce(`etcd keepalive: ${(err as Error).message}`);
    }
  }

  private async grant(): Promise<void> {
    if (this.granting) return;
    this.granting = true;
    const sentAt = performance.now();
    this.deadline.lost();
    this.held.clear();
    const lease = this.etcd.lease(Math.ceil(this.ttlMs / 1000), { autoKeepAlive: false });
    lease.on('lost', () => undefined);
    try {
      this.leaseId = await lease.grant();
      this.lease = lease;
      this.grantedAt = performance.now();
      this.published.clear();
      this.deadline.renewed(sentAt, this.ttlMs);
    } catch (err) {
      lease.release();
      this.warnOnce(`etcd lease grant: ${(err as Error).message}`);
    } finally {
      this.granting = false;
    }
  }

  /** dropLease forgets a lease etcd no longer has: every leader key under it is gone. */
  private dropLease(): void {
    if (this.lease === undefined) return;
    this.log.warn(`lease ${String(this.leaseId)} expired in etcd: this process holds no leader key now`);
    this.deadline.lost();
    this.held.clear();
    this.lease.release();
    this.lease = undefined;
    this.leaseId = undefined;
  }

  private async read(): Promise<Snapshot> {
    const res = await this.etcd.getAll().prefix(this.prefix).options(this.opts()).exec();
    const snap: Snapshot = { map: undefined, leaders: new Map(), seqs: new Map() };
    for (const kv of res.kvs) {
      const key = kv.key.toString().slice(this.prefix.length);
      if (key === 'map') {
        try {
          snap.map = { doc: JSON.parse(kv.value.toString()) as unknown, modRevision: kv.mod_revision };
        } catch {
          this.warnOnce(`etcd key ${this.mapKey} is not JSON; ignored`);
        }
      } else if (key.startsWith('leader/')) snap.leaders.set(key.slice('leader/'.length), kv);
      else if (key.startsWith('seq/')) {
        const [shard = '', address = ''] = key.slice('seq/'.length).split('/');
        const list = snap.seqs.get(shard) ?? [];
        list.push({ address, seq: Number(kv.value.toString()) });
        snap.seqs.set(shard, list);
      }
    }
    return snap;
  }

  private parse(doc: unknown): LiveMap | undefined {
    try {
      return parseLiveMap(doc, this.config.shards);
    } catch (err) {
      this.warnOnce(`the live map in etcd does not fit the config: ${(err as Error).message}`);
      return undefined;
    }
  }

  /** swapMap writes `map` if the map key still has `modRevision` (undefined: does not exist yet). */
  private async swapMap(map: LiveMap, modRevision: string | undefined): Promise<boolean> {
    const put = this.etcd.put(this.mapKey).value(JSON.stringify(map));
    const txn =
      modRevision === undefined
        ? this.etcd.if(this.mapKey, 'Create', '==', 0)
        : this.etcd.if(this.mapKey, 'Mod', '==', modRevision);
    const r = await txn.then(put).options(this.opts()).commit();
    return r.succeeded;
  }

  private async tick(): Promise<void> {
    try {
      if (this.leaseId === undefined) return;
      const snap = await this.read();
      await this.syncMap(snap);
      await this.publishSeqs();
      for (const shard of this.keeper.current.shards) await this.step(shard, snap);
    } finally {
      // Also when etcd does not answer: a leader past its deadline is fenced at its worker too.
      await this.applyFences();
    }
  }

  /** syncMap adopts etcd's map when newer, and writes this process's when etcd's is older or missing. */
  private async syncMap(snap: Snapshot): Promise<void> {
    const theirs = snap.map === undefined ? undefined : this.parse(snap.map.doc);
    const mine = this.keeper.current;
    if (theirs !== undefined && theirs.version > mine.version)
      await this.keeper.offer(theirs, 'etcd').catch((err: unknown) => {
        this.warnOnce(`refused the live map in etcd: ${(err as Error).message}`);
      });
    else if (theirs === undefined || theirs.version < mine.version)
      await this.swapMap(mine, snap.map?.modRevision);
  }

  private hostedStores(idx: number): NodePlan['stores'] {
    return this.plan.stores.filter(
      (st) => st.shard.idx === idx && this.pool.storeFailure(st.index) === undefined,
    );
  }

  private async publishSeqs(): Promise<void> {
    for (const st of this.plan.stores) {
      if (this.pool.storeFailure(st.index) !== undefined) continue;
      const key = this.seqKey(st.shard.name, st.node);
      const seq = this.pool.lastSeq(st.index);
      if (this.published.get(key) === seq) continue;
      await this.etcd.put(key).value(String(seq)).lease(this.leaseId!).options(this.opts()).exec();
      this.published.set(key, seq);
    }
  }

  /** step reconciles one shard: keep or take its leader key if this process leads it, else maybe campaign. */
  private async step(shard: LiveShard, snap: Snapshot): Promise<void> {
    const key = this.leaderKey(shard.name);
    const kv = snap.leaders.get(shard.name);
    const holder = kv?.value.toString();
    const mine = kv !== undefined && kv.lease === this.leaseId;
    for (const st of this.hostedStores(shard.idx)) {
      if (st.node === shard.leader) {
        if (kv === undefined) {
          if (await this.createLeaderKey(key, st.node)) this.take(shard, st.node);
        } else if (holder === st.node && mine) this.held.add(shard.idx);
        else if (holder === st.node) {
          // This node's key under an earlier lease (a restart): the map still names it, take it over.
          const r = await this.etcd
            .if(key, 'Mod', '==', kv.mod_revision)
            .then(this.etcd.put(key).value(st.node).lease(this.leaseId!))
            .options(this.opts())
            .commit();
          if (r.succeeded) this.take(shard, st.node);
        } else this.held.delete(shard.idx);
        continue;
      }
      if (holder === st.node && mine) {
        // Led by another node in the map now (a planned failover): let its leader key go.
        await this.etcd
          .if(key, 'Mod', '==', kv.mod_revision)
          .then(this.etcd.delete().key(key))
          .options(this.opts())
          .commit();
        continue;
      }
      if (kv !== undefined) {
        this.absentSince.delete(shard.idx);
        this.seenHeld.add(shard.idx);
      }
      if (kv !== undefined || st.role !== 'replica') continue;
      // Live members publish their seqs every tick, so the ranking sees them all; but after this
      // process's own lease was renewed lately (a mass expiry: etcd was unreachable), campaign only
      // once the key has been gone for a tick, when every live member has republished. A key never
      // seen since this process started gives its leader a whole TTL more to start and take it.
      const since = this.absentSince.get(shard.idx) ?? performance.now();
      this.absentSince.set(shard.idx, since);
      const wait = !this.seenHeld.has(shard.idx)
        ? this.ttlMs + this.tickMs
        : performance.now() - this.grantedAt < this.ttlMs
          ? this.tickMs
          : 0;
      if (performance.now() - since < wait) continue;
      const seq = this.pool.lastSeq(st.index);
      const others = (snap.seqs.get(shard.name) ?? []).filter((p) => p.address !== st.node);
      if (!ranksFirst(st.node, seq, others)) continue;
      await this.campaign(shard, st.node, st.index);
    }
  }

  private take(shard: LiveShard, node: string): void {
    if (!this.held.has(shard.idx))
      this.log.info(
        { shard: shard.name, node, epoch: shard.epoch },
        `${node} holds the leader key of ${shard.name}`,
      );
    this.held.add(shard.idx);
  }

  private async createLeaderKey(key: string, node: string): Promise<string | undefined> {
    const r = await this.etcd
      .if(key, 'Create', '==', 0)
      .then(this.etcd.put(key).value(node).lease(this.leaseId!))
      .options(this.opts())
      .commit();
    return r.succeeded ? r.header.revision : undefined;
  }

  /** campaign takes the leader key of a shard whose leader is gone, then publishes and adopts the map that promotes `node`. */
  private async campaign(shard: LiveShard, node: string, store: number): Promise<void> {
    const won = await this.createLeaderKey(this.leaderKey(shard.name), node);
    if (won === undefined) return;
    const revision = Number(won);
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const snap = await this.read();
      const base = snap.map === undefined ? undefined : this.parse(snap.map.doc);
      const cur = base?.shards.find((s) => s.idx === shard.idx);
      if (
        base === undefined ||
        cur === undefined ||
        cur.leader !== shard.leader ||
        cur.epoch !== shard.epoch
      ) {
        this.log.warn(
          { shard: shard.name },
          `the map of ${shard.name} changed during the campaign; ${node} stands down`,
        );
        return;
      }
      const epoch = Math.max(revision, cur.epoch + 1);
      // The fork point: this store's durable seq; its old leader is gone (its lease expired after it fenced itself).
      const seq = this.pool.lastSeq(store);
      const next: LiveMap = {
        version: base.version + 1,
        shards: base.shards.map((s) =>
          s.idx !== shard.idx
            ? s
            : {
                ...s,
                leader: node,
                replicas: [s.leader, ...s.replicas].filter((m) => m !== node),
                epoch,
                history: [...s.history, { epoch, firstSeq: seq + 1 }],
              },
        ),
      };
      if (!(await this.swapMap(next, snap.map?.modRevision))) continue;
      this.log.warn(
        { shard: shard.name, from: shard.leader, to: node, epoch, seq, map_version: next.version },
        `automatic failover: ${node} leads ${shard.name} in epoch ${epoch} from seq ${seq + 1} (the leader ${shard.leader} lost its lease)`,
      );
      await this.keeper.offer(next, 'etcd (automatic failover)');
      this.take({ ...shard, epoch }, node);
      return;
    }
  }

  /** applyFences fences, at their worker, the leader stores this process may not write for now (RESP and queued writes included). */
  private async applyFences(): Promise<void> {
    for (const st of this.plan.stores) {
      if (st.role !== 'leader') {
        this.workerFenced.delete(st.index);
        continue;
      }
      if (this.pool.storeFailure(st.index) !== undefined) continue;
      const want = !this.mayWrite(st.shard.idx);
      if (want === this.workerFenced.has(st.index)) continue;
      await this.pool.call(st.worker, { type: 'fence', store: st.index, on: want });
      if (want) this.workerFenced.add(st.index);
      else this.workerFenced.delete(st.index);
    }
  }
}
