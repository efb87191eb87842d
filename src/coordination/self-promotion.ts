/**
 * Self-promotion through etcd: the one way a process makes one of its stores a shard's leader in a
 * new epoch with a coordinator (docs/failover.md, "Automatic failover with etcd" and "A leader
 * restarting after a crash"). A campaign's winner (a replica) and a leader restarting after a
 * lossy unclean stop (src/server/restart-epochs.ts) both hold the shard's leader key since
 * revision `won` and call it.
 *
 * The store is held first (`fence`: a replica stops following, a leader's writes wait), so its
 * last seq stays put: a replica's old leader, past its deadline, writes no more but may still
 * answer pulls of records it wrote before (a partition from etcd alone), and the epoch must start
 * after the last of them the store holds, not after a position read earlier. Then the map naming
 * it leader in an epoch above `won` and the shard's epoch, numbered after it (`nextEpoch`), from
 * that seq + 1 is stored by compare-and-swap
 * (etcd-keyspace.ts `publishPromotion`). Once the map is in etcd the store stays held until it
 * adopts it (or the hold runs out); a replica held because its shard's key was missing stays
 * held until the key comes back (follow-holds.ts). The promotion counts (the process may take the
 * shard's writes) only once the node's keeper routes with it (`promoteAndAdopt`).
 */
import type { Logger } from 'pino';
import type { LiveMap, LiveShard } from '../routing/live-map.js';
import type { MapKeeper } from '../server/map-keeper.js';
import type { StoreHolds } from '../server/store-holds.js';
import type { WorkerPool } from '../server/worker-pool.js';
import type { EtcdKeyspace } from './etcd-keyspace.js';
import type { FollowHolds } from './follow-holds.js';

/** PromotionDeps are what a self-promotion uses of its coordinator. */
export interface PromotionDeps {
  keys: EtcdKeyspace;
  pool: WorkerPool;
  holds: FollowHolds;
  /** storeHolds are the keeper's owners of replica holds (a `distkv failover`'s claim among them). */
  storeHolds: StoreHolds;
  log: Logger;
  /** holdMs bounds how long the store stays held if the map never comes. */
  holdMs: number;
}

/**
 * Promotion names the store to promote: `node`'s store `store` (on `worker`) of `shard`, key won
 * at revision `won`; `mine` is the node's map `shard` comes from (etcd's must not be behind it).
 */
export interface Promotion {
  mine: LiveMap;
  shard: LiveShard;
  node: string;
  store: number;
  worker: number;
  won: string;
  /** cause says, in the promotion's log line, why the shard's leader changes (a campaign's; absent for a leader's own new epoch). */
  cause?: string;
}

/** promoteThroughEtcd holds the store and stores its promotion in etcd (see above); resolves with the map, or undefined when it did not happen. */
export async function promoteThroughEtcd(d: PromotionDeps, p: Promotion): Promise<LiveMap | undefined> {
  const hold = (on: boolean) => d.pool.call(p.worker, { type: 'fence', store: p.store, on, ms: d.holdMs });
  let next: LiveMap | undefined;
  try {
    const held = await hold(true);
    if (held.type !== 'fence-result') return undefined;
    next = await d.keys.publishPromotion(p.shard, p.node, p.won, held.lastSeq, d.log, p.mine, p.cause);
  } finally {
    // Released unless another holds it too: the coordinator's own hold while the shard's key is
    // missing, or a `distkv failover`'s claim (its release would be taken from it).
    if (
      next === undefined &&
      d.holds.heldSeq(p.store) === undefined &&
      d.storeHolds.claimant(p.store) === undefined
    )
      await hold(false).catch(() => undefined);
  }
  return next;
}

/** AdoptionDeps are PromotionDeps and the keeper the promotion's map is offered to. */
export interface AdoptionDeps extends PromotionDeps {
  keeper: Pick<MapKeeper, 'current' | 'offer'>;
  /** warn logs a message once (the coordinator's warnOnce). */
  warn: (message: string, level: 'warn' | 'error') => void;
}

/**
 * promoteAndAdopt stores `p`'s promotion in etcd (`promoteThroughEtcd`) and offers it to the
 * keeper (`source` names it in the log); resolves with the new epoch once the keeper's map names
 * `p.node` the shard's leader in it, else undefined. A leader owing a new epoch that counted a
 * promotion its keeper refused went on writing in its old epoch
 * (test/unit/etcd-promotion-base.test.ts).
 */
export async function promoteAndAdopt(
  d: AdoptionDeps,
  p: Promotion,
  source: string,
): Promise<number | undefined> {
  const next = await promoteThroughEtcd(d, p);
  if (next === undefined) return undefined;
  await d.keeper.offer(next, source);
  const epoch = next.shards.find((s) => s.idx === p.shard.idx)?.epoch ?? p.shard.epoch;
  const now = d.keeper.current.shards.find((s) => s.idx === p.shard.idx);
  if (now !== undefined && now.leader === p.node && now.epoch >= epoch) return epoch;
  d.warn(
    `${p.node} stored its promotion in ${p.shard.name} (map version ${next.version}, epoch ${epoch}) but this node's map (version ${d.keeper.current.version}) did not take it: it takes no writes for ${p.shard.name} until it does`,
    'error',
  );
  return undefined;
}
