/**
 * EtcdKeyspace: where automatic failover keeps its state in etcd, and how it reads and changes it
 * (docs/failover.md, "Automatic failover with etcd"). Under `/distkv/<cluster>/`:
 *   map                   the live map (src/routing/live-map.ts) as JSON; every change is a
 *                         compare-and-swap on its mod revision, so etcd orders map versions
 *   leader/<shard>        the address of the shard's leader, under that node's lease
 *   seq/<shard>/<node>    the durable seq of the node's store of that shard, under its lease
 * One range read of the prefix gives the whole picture (`read`); a campaign's winner stores the map
 * that promotes it by compare-and-swap (`publishPromotion`).
 */
import type { Etcd3, IKeyValue } from 'etcd3';
import type { Logger } from 'pino';
import { nextEpoch } from '../routing/epoch-numbers.js';
import { type LiveMap, type LiveShard, parseLiveMap, promotedMap } from '../routing/live-map.js';
import { sameShards } from '../routing/map-merge.js';
import type { ShardInfo } from '../routing/shard-map.js';
import type { Published } from './candidate-rank.js';

/**
 * behind says why etcd's map `base` may not carry a promotion made from the node's map `mine`
 * (undefined: it may). A promotion is `base.version + 1`: built on a map older than the node's
 * (etcd restored from an older snapshot, or a node behind wrote its map after etcd lost its
 * data), it is a version the node already passed, which its keeper refuses, and it rolls back
 * whatever changed between for every node behind that adopts it. One of the node's version with
 * other entries was made apart from etcd: the reconcile settles it first (map-sync.ts). Either
 * way the next reconcile writes the node's map (or the merge) to etcd, and the campaign runs again
 * on it.
 */
function behind(base: LiveMap, mine: LiveMap): string | undefined {
  if (base.version > mine.version || (base.version === mine.version && sameShards(base, mine)))
    return undefined;
  return `the live map in etcd (version ${base.version}) is behind this node's (version ${mine.version}${base.version === mine.version ? ', other entries' : ''}): a promotion over it would go back`;
}

/** CAS_ATTEMPTS bounds how often a map change is retried when another change raced it. */
const CAS_ATTEMPTS = 4;

/** CALL_TIMEOUT_MS bounds each etcd call so a lost etcd never stalls the coordinator. */
export const CALL_TIMEOUT_MS = 1000;

/** callOptions are the options of one bounded etcd call. */
export function callOptions(): { deadline: number } {
  return { deadline: Date.now() + CALL_TIMEOUT_MS };
}

/** Snapshot is the coordination state read at one revision. */
export interface Snapshot {
  /**
   * map is etcd's live map and its mod revision; `live` is undefined when the map does not fit this
   * node's config (another cluster's under the same prefix), and `misfit` then says why.
   */
  map: { live: LiveMap | undefined; misfit?: string; modRevision: string } | undefined;
  /** leaders holds each shard's leader key, by shard name. */
  leaders: Map<string, IKeyValue>;
  /** seqs lists each shard's published member seqs, by shard name. */
  seqs: Map<string, Published[]>;
  /** clusterId is the etcd cluster that answered the read (its header's `cluster_id`; etcd-cluster-check.ts). */
  clusterId?: string;
}

/** EtcdKeyspace reads and writes one cluster's coordination keys. */
export class EtcdKeyspace {
  readonly prefix: string;
  private readonly etcd: Etcd3;
  private readonly shards: readonly ShardInfo[];

  constructor(etcd: Etcd3, cluster: string, shards: readonly ShardInfo[]) {
    this.etcd = etcd;
    this.prefix = `/distkv/${cluster}/`;
    this.shards = shards;
  }

  get mapKey(): string {
    return `${this.prefix}map`;
  }

  leaderKey(shard: string): string {
    return `${this.prefix}leader/${shard}`;
  }

  seqKey(shard: string, node: string): string {
    return `${this.prefix}seq/${shard}/${node}`;
  }

  /** read returns every coordination key of the cluster in one range read. */
  async read(): Promise<Snapshot> {
    const res = await this.etcd.getAll().prefix(this.prefix).options(callOptions()).exec();
    const snap: Snapshot = {
      map: undefined,
      leaders: new Map(),
      seqs: new Map(),
      clusterId: res.header.cluster_id,
    };
    for (const kv of res.kvs) {
      const key = kv.key.toString().slice(this.prefix.length);
      if (key === 'map') snap.map = { ...this.parse(kv.value), modRevision: kv.mod_revision };
      else if (key.startsWith('leader/')) snap.leaders.set(key.slice('leader/'.length), kv);
      else if (key.startsWith('seq/')) {
        const [shard = '', address = ''] = key.slice('seq/'.length).split('/');
        const list = snap.seqs.get(shard) ?? [];
        list.push({ address, seq: Number(kv.value.toString()) });
        snap.seqs.set(shard, list);
      }
    }
    return snap;
  }

  private parse(value: Buffer): { live: LiveMap | undefined; misfit?: string } {
    try {
      return { live: parseLiveMap(JSON.parse(value.toString()), this.shards) };
    } catch (err) {
      return { live: undefined, misfit: (err as Error).message };
    }
  }

  /** publishSeq writes `seq` as `node`'s durable seq of `shard` under `lease`. */
  async publishSeq(shard: string, node: string, seq: number, lease: string): Promise<void> {
    await this.etcd
      .put(this.seqKey(shard, node))
      .value(String(seq))
      .lease(lease)
      .options(callOptions())
      .exec();
  }

  /** withdrawSeq deletes `node`'s published seq of `shard` (a store that cannot lead: seq-publisher.ts). */
  async withdrawSeq(shard: string, node: string): Promise<void> {
    await this.etcd.delete().key(this.seqKey(shard, node)).options(callOptions()).exec();
  }

  /**
   * putLeader makes `node` the holder of `shard`'s leader key under `lease`, if the key still has
   * `modRevision` (undefined: if it does not exist); resolves with the revision written, or
   * undefined when the key changed meanwhile. A new key's revision is its create revision: the epoch.
   */
  async putLeader(
    shard: string,
    node: string,
    lease: string,
    modRevision: string | undefined,
  ): Promise<string | undefined> {
    const key = this.leaderKey(shard);
    const r = await (
      modRevision === undefined
        ? this.etcd.if(key, 'Create', '==', 0)
        : this.etcd.if(key, 'Mod', '==', modRevision)
    )
      .then(this.etcd.put(key).value(node).lease(lease))
      .options(callOptions())
      .commit();
    return r.succeeded ? r.header.revision : undefined;
  }

  /** dropLeader deletes `shard`'s leader key if it still has `modRevision` (nobody took it over since). */
  async dropLeader(shard: string, modRevision: string): Promise<void> {
    const key = this.leaderKey(shard);
    await this.etcd
      .if(key, 'Mod', '==', modRevision)
      .then(this.etcd.delete().key(key))
      .options(callOptions())
      .commit();
  }

  /** swapMap writes `map` if the map key still has `modRevision` (undefined: does not exist yet). */
  async swapMap(map: LiveMap, modRevision: string | undefined): Promise<boolean> {
    const put = this.etcd.put(this.mapKey).value(JSON.stringify(map));
    const txn =
      modRevision === undefined
        ? this.etcd.if(this.mapKey, 'Create', '==', 0)
        : this.etcd.if(this.mapKey, 'Mod', '==', modRevision);
    const r = await txn.then(put).options(callOptions()).commit();
    return r.succeeded;
  }

  /**
   * publishPromotion stores (compare-and-swap) the map naming `node`, which won `shard`'s leader
   * key at revision `won`, its leader from seq `seq + 1`, in an epoch above `won` and the shard's
   * epoch, numbered after `node` (`nextEpoch`, src/routing/epoch-numbers.ts); resolves
   * with it, or undefined when it stands down (the key is then let go): the shard's map changed
   * meanwhile, or etcd's map is behind `mine`, the node's own map `shard` comes from (`behind`).
   * `node` may be the shard's leader already: a leader restarting after an unclean stop
   * (src/server/restart-epochs.ts). `cause` says in the log why another node takes the shard.
   */
  async publishPromotion(
    shard: LiveShard,
    node: string,
    won: string,
    seq: number,
    log: Logger,
    mine: LiveMap,
    cause = `the leader ${shard.leader} lost its lease`,
  ): Promise<LiveMap | undefined> {
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const snap = await this.read();
      const base = snap.map?.live;
      const cur = base?.shards.find((s) => s.idx === shard.idx);
      const why =
        base === undefined || cur === undefined
          ? `the live map in etcd is gone`
          : cur.leader !== shard.leader || cur.epoch !== shard.epoch
            ? `the map of ${shard.name} changed during the campaign`
            : behind(base, mine);
      if (why !== undefined || base === undefined || cur === undefined) {
        log.warn({ shard: shard.name }, `${why ?? 'no map'}; ${node} stands down`);
        // Let the key go at once, so the leader the new map names need not wait for this lease.
        await this.dropLeader(shard.name, won);
        return undefined;
      }
      const epoch = nextEpoch(cur, node, Number(won));
      const next = promotedMap(base, shard.idx, node, epoch, seq);
      if (!(await this.swapMap(next, snap.map?.modRevision))) continue;
      log.warn(
        { shard: shard.name, from: shard.leader, to: node, epoch, seq, map_version: next.version },
        node === shard.leader
          ? `restart after an unclean stop: ${node} leads ${shard.name} in a new epoch ${epoch} from seq ${seq + 1}, so replicas and watchers holding records the crash took see a fork`
          : `automatic failover: ${node} leads ${shard.name} in epoch ${epoch} from seq ${seq + 1} (${cause})`,
      );
      return next;
    }
    return undefined;
  }
}
