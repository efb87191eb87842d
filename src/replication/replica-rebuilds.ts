/**
 * ReplicaRebuilds: the stores of a worker's replicas under a resync (follower.ts: a replica
 * rebuilt from its leader's snapshot; docs/architecture.md, "Resync").
 *
 * While a replica is rebuilt its slot answers UNAVAILABLE (ResyncingStore) and the store being
 * loaded is kept here, by store index, not by the follower that loads it: a follower stopped in the
 * middle of the load (a promotion's hold, a leader change) leaves it here, and whichever follower
 * rebuilds the replica next closes it first (left open, its id kept the commit log from opening
 * the store again, and the replica answered UNAVAILABLE until the process restarted). A replica
 * that starts over a load that never finished (its resync marker says `loading`) is set aside the
 * same way until its resync rebuilds it (`setAside`).
 *
 * Used only on the replicas' worker thread.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import { epochOfSeq } from '../routing/version.js';
import type { Store } from '../storage/store.js';
import type { StoreReplication } from '../storage/store-replication.js';
import type { StoreSpec } from '../worker/messages.js';
import { type Positions, SLOT_LAST_SEQ } from './positions.js';
import { RESYNC_MARKER, readResyncMarker, snapshotEpochOf, wipeReplicaDir } from './resync-marker.js';
import { ResyncingStore } from './resyncing-store.js';

/** HostedStore is a worker's slot for one store; `store` is replaced when a replica resyncs. */
export interface HostedStore {
  spec: StoreSpec;
  store: Store;
}

/** ReplicaRebuilds keeps the stores of replicas under a resync (see above). */
export class ReplicaRebuilds {
  private readonly stores = new Map<number, Store>();
  private readonly openSpec: (spec: StoreSpec) => Promise<Store>;
  private readonly positions: Positions;
  private readonly log: Logger | undefined;

  /** `open` opens a replica's store afresh from its spec, as the worker does (into its commit log). */
  constructor(open: (spec: StoreSpec) => Promise<Store>, positions: Positions, log: Logger | undefined) {
    this.openSpec = open;
    this.positions = positions;
    this.log = log;
  }

  /**
   * setAside readies replica `index` (slot `h`, resync marker `marker`) for its follower and says
   * whether it must resync first: it stands in for a store under a resync (a follower stopped in the
   * middle of one), or its snapshot load began and never finished (the process stopped in the
   * middle). Such a store holds part of a snapshot, or what its log still held of the replica,
   * under a seq that does not describe it: served, it would answer reads from that part; its seq,
   * published, would rank it for a promotion on data it does not hold. So it is put aside: the
   * replica answers UNAVAILABLE and acks 0, as during any resync, even while its leader is out of
   * reach and the resync cannot begin.
   */
  setAside(index: number, h: HostedStore, marker: string): boolean {
    if (h.store instanceof ResyncingStore) return true;
    if (readResyncMarker(marker) !== 'loading') return false;
    this.log?.warn(
      { shard: h.spec.shard.name, node: h.spec.node, seq: h.store.lastSeq() },
      `store ${h.spec.shard.name} on ${h.spec.node} stopped in the middle of loading a leader snapshot: it serves nothing until a resync rebuilds it`,
    );
    this.stores.set(index, h.store);
    h.store = new ResyncingStore();
    this.positions.set(index, SLOT_LAST_SEQ, 0);
    return true;
  }

  /**
   * rebuild closes replica `index`'s store (the one an earlier load left, if any), wipes its
   * directory but the resync marker and opens an empty store there, kept here (not yet serving).
   */
  async rebuild(index: number, h: HostedStore): Promise<StoreReplication> {
    await this.closeOld(index, h);
    wipeReplicaDir(h.spec.dir);
    const fresh = await this.open(h);
    this.stores.set(index, fresh.store);
    return fresh.replication;
  }

  /** reopen closes replica `index`'s loaded store and opens it again, serving (its log continues after the snapshot). */
  async reopen(index: number, h: HostedStore): Promise<StoreReplication> {
    await this.closeOld(index, h);
    const fresh = await this.open(h);
    h.store = fresh.store;
    return fresh.replication;
  }

  /** close closes the stores of unfinished resyncs (the worker closes the others). */
  async close(): Promise<void> {
    const stores = [...this.stores.values()];
    this.stores.clear();
    await Promise.all(stores.map((s) => s.close()));
  }

  /** closeOld puts a ResyncingStore in slot `h` and closes the store it had, or the one kept for `index`. */
  private async closeOld(index: number, h: HostedStore): Promise<void> {
    const old = this.stores.get(index) ?? h.store;
    this.stores.delete(index);
    h.store = new ResyncingStore();
    await old.close();
  }

  /** open opens a replica's store afresh (it must have a replication seam) and gives it its epoch. */
  private async open(h: HostedStore): Promise<{ store: Store; replication: StoreReplication }> {
    const store = await this.openSpec({ ...h.spec, repair: false });
    const replication = store.replication;
    if (replication === undefined) {
      await store.close();
      throw new Error(
        `the ${store.engine} engine has no replication seam; a replica cannot be rebuilt on it`,
      );
    }
    setReplicaEpoch({ spec: h.spec, store });
    return { store, replication };
  }
}

/**
 * setReplicaEpoch gives a replica opened afresh the epoch of its last record: the one its log frame
 * carries when the log still holds it; at the seq of the snapshot it was last loaded from (no record
 * logged since), the leader's epoch there, kept in its resync marker; else the one its shard's
 * history gives that seq (which may lag the leader's).
 */
export function setReplicaEpoch(h: HostedStore): void {
  const r = h.store.replication;
  if (r === undefined || r.epochRecovered) return;
  const last = r.lastSeq();
  const loaded = snapshotEpochOf(join(h.spec.dir, RESYNC_MARKER));
  r.epoch = loaded?.seq === last ? loaded.epoch : epochOfSeq(h.spec.history ?? [], last);
}
