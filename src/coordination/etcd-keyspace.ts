/**
 * EtcdKeyspace: where automatic failover keeps its state in etcd, and how it reads and changes it
 * (docs/failover.md, "Automatic failover with etcd"). Under `/distkv/<cluster>/`:
 *   map                   the live map (src/routing/live-map.ts) as JSON; every change is a
 *                         compare-and-swap on its mod revision, so etcd orders map versions
 *   leader/<shard>        the address of the shard's leader, under that node's lease
 *   seq/<shard>/<node>    the durable seq of the node's store of that shard, under its lease
 * One range read of the prefix gives the whole picture (`read`).
 */
import type { Etcd3, IKeyValue } from 'etcd3';
import { type LiveMap, parseLiveMap } from '../routing/live-map.js';
import type { ShardInfo } from '../routing/shard-map.js';
import type { Published } from './candidate-rank.js';

/** CALL_TIMEOUT_MS bounds each etcd call so a lost etcd never stalls the coordinator. */
export const CALL_TIMEOUT_MS = 1000;

/** callOptions are the options of one bounded etcd call. */
export function callOptions(): { deadline: number } {
  return { deadline: Date.now() + CALL_TIMEOUT_MS };
}

/** Snapshot is the coordination state read at one revision. */
export interface Snapshot {
  /** map is etcd's live map (`live` undefined when it does not fit the config) and its mod revision. */
  map: { live: LiveMap | undefined; modRevision: string } | undefined;
  /** leaders holds each shard's leader key, by shard name. */
  leaders: Map<string, IKeyValue>;
  /** seqs lists each shard's published member seqs, by shard name. */
  seqs: Map<string, Published[]>;
}

/** EtcdKeyspace reads and writes one cluster's coordination keys. */
export class EtcdKeyspace {
  readonly prefix: string;
  private readonly etcd: Etcd3;
  private readonly shards: readonly ShardInfo[];
  private readonly warn: (message: string) => void;

  constructor(etcd: Etcd3, cluster: string, shards: readonly ShardInfo[], warn: (message: string) => void) {
    this.etcd = etcd;
    this.prefix = `/distkv/${cluster}/`;
    this.shards = shards;
    this.warn = warn;
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
    const snap: Snapshot = { map: undefined, leaders: new Map(), seqs: new Map() };
    for (const kv of res.kvs) {
      const key = kv.key.toString().slice(this.prefix.length);
      if (key === 'map') snap.map = { live: this.parse(kv.value), modRevision: kv.mod_revision };
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

  private parse(value: Buffer): LiveMap | undefined {
    try {
      return parseLiveMap(JSON.parse(value.toString()), this.shards);
    } catch (err) {
      this.warn(`the live map in etcd (${this.mapKey}) does not fit the config: ${(err as Error).message}`);
      return undefined;
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
}
