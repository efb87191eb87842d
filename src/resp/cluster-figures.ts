/**
 * The numbers the cluster commands give of each node (commands-cluster.ts): its config epoch
 * (CLUSTER NODES, CLUSTER INFO) and its replication offset (CLUSTER SHARDS), in Redis Cluster's
 * terms, from the live map and what this process knows. They said 1 and 0 for every node.
 *
 * Config epoch. Redis's `configEpoch` is a master's term: raised when it wins a failover, it
 * settles which claim on a slot wins. distkv's nearest number is a shard's epoch in the live map
 * (src/routing/live-map.ts): raised by every change of the shard's leader (and a leader's restart
 * after an unclean stop), never lowered, and the one that decides whose records a fork keeps. So
 * a master's config epoch is the highest epoch of the shards it leads, and a replica's is its
 * master's, as Redis prints a replica's line with its master's epoch. `cluster_current_epoch` is
 * the highest epoch of any shard (Redis's is at least every config epoch). The map's version is
 * not used: it orders whole maps, moves for changes that give no node a new term, and is not on
 * the scale of the epochs (version 1 is the first map, whose epochs are 0). A cluster that never
 * failed over says 0, as a Redis node whose epoch was never set; Redis makes its masters' epochs
 * distinct, distkv's may be equal, since its map, not the epochs, decides who owns a slot.
 *
 * Replication offset. A distkv node keeps one log per shard, so a node's offset in an entry of
 * CLUSTER SHARDS is its seqs summed over the entry's shards, each as known here: a store of the
 * node in this process, its last seq (a leader's writes, a replica's ack); a leader elsewhere
 * whose shard has a replica store here, the leader seq that replica last saw; a replica elsewhere
 * of a leader store here, that leader's word on its last pull (`replicas[].ack` in its stats).
 * Otherwise nothing is known here and it adds 0, as a Redis node knows only what gossip told it.
 */
import { SLOT_LEADER_SEQ } from '../replication/positions.js';
import type { ShardInfo } from '../routing/shard-map.js';
import type { StoreStatsReport } from '../worker/messages.js';
import { pullOf } from './replica-links.js';
import type { RespConnection } from './resp-connection.js';

/** epochOf is shard `idx`'s epoch in the live map (0 when the context gives none: the first map's). */
function epochOf(c: RespConnection, idx: number): number {
  return c.ctx.liveEpochs?.().get(idx) ?? 0;
}

/**
 * configEpochOf is the config epoch CLUSTER NODES gives a node: the highest epoch of `led`, the
 * shards it leads, or for a replica (`led` empty) that of `master`'s shards (0 for neither).
 */
export function configEpochOf(
  c: RespConnection,
  led: readonly ShardInfo[],
  master: string | undefined,
  shards: readonly ShardInfo[],
): number {
  const own = led.length > 0 ? led : shards.filter((s) => master !== undefined && s.address === master);
  return own.reduce((e, s) => Math.max(e, epochOf(c, s.idx)), 0);
}

/** currentEpoch is CLUSTER INFO's `cluster_current_epoch`: the highest epoch of any shard. */
export function currentEpoch(c: RespConnection, shards: readonly ShardInfo[]): number {
  return shards.reduce((e, s) => Math.max(e, epochOf(c, s.idx)), 0);
}

/**
 * offsetOf is node `address`'s replication offset over `shards` (one CLUSTER SHARDS entry), as
 * known here (see the module comment); `stats` are this process's stores' stats (none: the acks of
 * replicas elsewhere are not known).
 */
export function offsetOf(
  c: RespConnection,
  address: string,
  shards: readonly ShardInfo[],
  stats: readonly StoreStatsReport[],
): number {
  return shards.reduce((n, s) => n + seqOf(c, address, s, stats), 0);
}

/** seqOf is node `address`'s seq of shard `s` as known in this process (0: not known). */
function seqOf(c: RespConnection, address: string, s: ShardInfo, stats: readonly StoreStatsReport[]): number {
  const { plan, pool } = c.ctx;
  const storeOf = (node: string): number | undefined =>
    plan.stores.find((x) => x.node === node && x.shard.idx === s.idx)?.index;
  const own = storeOf(address);
  if (own !== undefined) return pool.lastSeq(own);
  if (s.address === address) {
    // The leader is elsewhere: the latest seq one of its replicas here heard from it.
    return s.replicas.reduce((n, r) => {
      const here = storeOf(r);
      return here === undefined ? n : Math.max(n, pool.positions.get(here, SLOT_LEADER_SEQ));
    }, 0);
  }
  const leader = storeOf(s.address);
  return leader === undefined
    ? 0
    : (pullOf(stats.find((x) => x.index === leader)?.stats.replicas, address)?.ack ?? 0);
}
