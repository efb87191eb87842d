/**
 * The replication links INFO replication reports (commands-info.ts), from what the node knows of
 * them rather than from the peer check alone: a node that answers its peer checks may still not
 * replicate (its pulls refused, a wrong token say), and its data then goes stale while the check
 * says it is up.
 *
 *  - a replica's link to its master (masterLink) is down while a replica store here of that master's
 *    shards does not follow it (src/replication/lag.ts: its lag unknown);
 *  - a master lists (knownReplicas) each replica connected to it, with a state in Redis's words
 *    (`slaveN:...,state=S,...`), as Redis lists every replica it has a link with, whatever the
 *    link's stage. Per shard the master leads here, a replica is:
 *      `online`: it follows (a replica in this process by its published state, lag.ts: streaming or
 *        catching-up, its leader's answers fresh; one elsewhere by its last pull, which the leader
 *        store reports, `replicas[].lastSeenMsAgo` in its stats, and which comes at least every
 *        `pull_wait_ms` from a replica that follows); catching up on the log is Redis's `online`
 *        too (a replica after a partial resync streams the backlog while online);
 *      `wait_bgsave`: a snapshot stream to it started and has sent no page yet (its leader gathers
 *        the first), as a Redis master waits for the BGSAVE a full sync needs;
 *      `send_bulk`: it resyncs (a replica in this process: `resyncing`; one elsewhere: the snapshot
 *        stream its leader's node reports, src/http/replica-pulls.ts `resyncing`), as a Redis master
 *        sends the RDB; it holds no copy it could ack meanwhile, so it adds 0 to the offset;
 *      not connected, and not listed: `disconnected`, `starting` (its leader has not answered it
 *        yet), `held` (a promotion stopped it), `disk-failed` (its own disk stopped it: a Redis
 *        replica that cannot write the RDB it loads drops the link and starts again), or pulls
 *        that stopped. Redis lists no replica whose link is down either.
 *    A replica of several shards here is listed once, at the earliest stage of its shards
 *    (wait_bgsave, then send_bulk, then online), and not at all when one of them is not connected
 *    or the peer check finds its node down; `connected_slaves` counts the lines.
 */
import { CONTACT_GRACE_MS, type ReplicaLag, replicaLag } from '../replication/lag.js';
import { type Positions, SLOT_LAST_SEQ } from '../replication/positions.js';
import type { LeaderView } from '../http/replica-pulls.js';
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

/** LedShard is a shard this node leads: its idx, its leader store here and its replicas' addresses. */
export interface LedShard {
  idx: number;
  /** leaderStore is undefined when the process hosts no store of the shard for this node: the peer check decides alone. */
  leaderStore: number | undefined;
  replicas: readonly string[];
  /** localReplicaStore is the store index of replica `address` when it is in this process. */
  localReplicaStore: (address: string) => number | undefined;
}

/** REPLICA_STAGES are the states a master lists a replica in, in the order a link goes through them. */
export const REPLICA_STAGES = ['wait_bgsave', 'send_bulk', 'online'] as const;
/** ReplicaStage is Redis's `state` of a connected replica in INFO replication. */
export type ReplicaStage = (typeof REPLICA_STAGES)[number];

/**
 * ReplicaLink is one replica a master's INFO replication lists (`slaveN:`): its address, its state,
 * its offset (its acked seqs summed over the master's shards it replicates here, the figure the
 * master's `master_repl_offset` sums for all its shards; 0 for a shard it resyncs) and its lag in
 * whole seconds since the master last heard from it (Redis's `lag`, the seconds since the
 * replica's last ack; for a shard it resyncs, since its snapshot stream last sent a page).
 */
export interface ReplicaLink {
  address: string;
  state: ReplicaStage;
  offset: number;
  lagSeconds: number;
}

/** ShardLink is what the master knows of one replica on one shard: its stage, its ack and ms since it last heard from it. */
interface ShardLink {
  stage: ReplicaStage;
  ack: number;
  msAgo: number;
}

/**
 * knownReplicas are the replicas of `led` connected to this master (see the design block), in the
 * order the shards list them. `stats` are the stores' stats of this process. A replica in this
 * process is read from its published positions (its state and ack, and the time since its leader
 * last answered it, which a follower's long poll renews at least every `pull_wait_ms`); one
 * elsewhere from its leader store's word on its pulls (`replicas[].ack`, `lastSeenMsAgo`) and its
 * leader node's on its snapshot streams (`leaderView`; absent, none is known). A shard whose
 * leader store is not in this process adds nothing but the peer check's word.
 */
export function knownReplicas(
  led: readonly LedShard[],
  down: ReadonlySet<string>,
  positions: Positions,
  stats: readonly StoreStatsReport[],
  pullWaitMs: number,
  leaderView?: (shard: number, replica: string) => LeaderView,
  now = Date.now(),
): ReplicaLink[] {
  const byIndex = new Map(stats.map((s) => [s.index, s.stats]));
  /** seen is what the master knows of `replica` on shard `s` (undefined: it is not connected). */
  const seen = (s: LedShard, replica: string): ShardLink | undefined => {
    if (s.leaderStore === undefined) return { stage: 'online', ack: 0, msAgo: 0 };
    const local = s.localReplicaStore(replica);
    if (local !== undefined) {
      const lag = replicaLag(positions, local, positions.get(s.leaderStore, SLOT_LAST_SEQ), pullWaitMs, now);
      if (lag.known) return { stage: 'online', ack: lag.ackedSeq, msAgo: lag.lastContactMsAgo };
      return lag.state === 'resyncing'
        ? { stage: 'send_bulk', ack: 0, msAgo: lag.lastContactMsAgo ?? 0 }
        : undefined;
    }
    const view = leaderView?.(s.idx, replica);
    if (view?.resyncing === true)
      return {
        stage: (view.snapshot_bytes ?? 0) > 0 ? 'send_bulk' : 'wait_bgsave',
        ack: 0,
        msAgo: view.last_snapshot_ms_ago ?? 0,
      };
    const pull = pullOf(byIndex.get(s.leaderStore)?.replicas, replica);
    return pull !== undefined && pull.lastSeenMsAgo <= pullWaitMs + CONTACT_GRACE_MS
      ? { stage: 'online', ack: pull.ack, msAgo: pull.lastSeenMsAgo }
      : undefined;
  };
  const links: ReplicaLink[] = [];
  for (const address of new Set(led.flatMap((s) => s.replicas))) {
    if (down.has(address)) continue;
    const views = led.filter((s) => s.replicas.includes(address)).map((s) => seen(s, address));
    if (views.some((v) => v === undefined)) continue;
    const known = views as ShardLink[];
    links.push({
      address,
      state: REPLICA_STAGES[Math.min(...known.map((v) => REPLICA_STAGES.indexOf(v.stage)))] ?? 'online',
      offset: known.reduce((n, v) => n + v.ack, 0),
      lagSeconds: Math.floor(Math.max(0, ...known.map((v) => v.msAgo)) / 1000),
    });
  }
  return links;
}

/** pullOf reads replica `address`'s `ack` and `lastSeenMsAgo` in a leader store's stats `replicas` (undefined when absent). */
export function pullOf(
  replicas: unknown,
  address: string,
): { ack: number; lastSeenMsAgo: number } | undefined {
  if (!Array.isArray(replicas)) return undefined;
  for (const r of replicas as unknown[]) {
    if (typeof r !== 'object' || r === null) continue;
    const { replica, ack, lastSeenMsAgo } = r as {
      replica?: unknown;
      ack?: unknown;
      lastSeenMsAgo?: unknown;
    };
    if (replica === address && typeof lastSeenMsAgo === 'number')
      return { ack: typeof ack === 'number' ? ack : 0, lastSeenMsAgo };
  }
  return undefined;
}
