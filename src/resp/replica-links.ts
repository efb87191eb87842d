/**
 * The replication links INFO replication reports (commands-info.ts), from what the node knows of
 * them rather than from the peer check alone: a node that answers its peer checks may still not
 * replicate (its pulls refused, a wrong token say), and its data then goes stale while the check
 * says it is up.
 *
 *  - a replica's link to its master (masterLink) is down while a replica store here of that master's
 *    shards does not follow it (src/replication/lag.ts: its lag unknown);
 *  - a master's replica is connected (followingReplicas) while, for every shard the master leads
 *    here that lists it, it follows: a replica in this process by its published state (lag.ts), one
 *    elsewhere by its last pull, which the leader store reports (`replicas[].lastSeenMsAgo` in its
 *    stats) and which comes at least every `pull_wait_ms` from a replica that follows.
 */
import { CONTACT_GRACE_MS, type ReplicaLag, replicaLag } from '../replication/lag.js';
import { type Positions, SLOT_LAST_SEQ } from '../replication/positions.js';
import type { StoreStatsReport } from '../worker/messages.js';

/** MasterLink is what INFO replication says of this node's link to its master. */
export interface MasterLink {
  down: boolean;
  /** downSinceSeconds is Redis's `master_link_down_since_seconds`: -1 when it is not known. */
  downSinceSeconds: number;
}

/**
 * masterLink is the link to the master: down while the peer check finds the master down
 * (`peerDown`) or while any of this node's replica stores of its shards does not follow it (`lags`:
 * disconnected, starting, resyncing, held), since the oldest last contact among those (-1 when one
 * has not reached it since it started, or only the peer check says so).
 */
export function masterLink(peerDown: boolean, lags: readonly ReplicaLag[]): MasterLink {
  const lost = lags.filter((l) => !l.known);
  if (!peerDown && lost.length === 0) return { down: false, downSinceSeconds: 0 };
  const ages = lost.map((l) => l.lastContactMsAgo);
  if (ages.length === 0 || ages.some((a) => a === undefined)) return { down: true, downSinceSeconds: -1 };
  return { down: true, downSinceSeconds: Math.floor(Math.max(...(ages as number[])) / 1000) };
}

/** LedShard is a shard this node leads: its leader store here and its replicas' addresses. */
export interface LedShard {
  /** leaderStore is undefined when the process hosts no store of the shard for this node: the peer check decides alone. */
  leaderStore: number | undefined;
  replicas: readonly string[];
  /** localReplicaStore is the store index of replica `address` when it is in this process. */
  localReplicaStore: (address: string) => number | undefined;
}

/**
 * followingReplicas are the replicas of `led` that follow every shard they replicate here and that
 * the peer check does not find `down` (see above). `stats` are the stores' stats of this process.
 */
export function followingReplicas(
  led: readonly LedShard[],
  down: ReadonlySet<string>,
  positions: Positions,
  stats: readonly StoreStatsReport[],
  pullWaitMs: number,
  now = Date.now(),
): string[] {
  const byIndex = new Map(stats.map((s) => [s.index, s.stats]));
  const follows = (s: LedShard, replica: string): boolean => {
    if (s.leaderStore === undefined) return true;
    const local = s.localReplicaStore(replica);
    if (local !== undefined)
      return replicaLag(positions, local, positions.get(s.leaderStore, SLOT_LAST_SEQ), pullWaitMs, now).known;
    const seen = seenMsAgo(byIndex.get(s.leaderStore)?.replicas, replica);
    return seen !== undefined && seen <= pullWaitMs + CONTACT_GRACE_MS;
  };
  const all = [...new Set(led.flatMap((s) => s.replicas))];
  return all.filter((r) => !down.has(r) && led.every((s) => !s.replicas.includes(r) || follows(s, r)));
}

/** seenMsAgo reads replica `address`'s `lastSeenMsAgo` in a leader store's stats `replicas` (undefined when absent). */
function seenMsAgo(replicas: unknown, address: string): number | undefined {
  if (!Array.isArray(replicas)) return undefined;
  for (const r of replicas as unknown[]) {
    if (typeof r !== 'object' || r === null) continue;
    const { replica, lastSeenMsAgo } = r as { replica?: unknown; lastSeenMsAgo?: unknown };
    if (replica === address && typeof lastSeenMsAgo === 'number') return lastSeenMsAgo;
  }
  return undefined;
}
