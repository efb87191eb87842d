/**
 * What `distkv cluster` calls not healthy, one line per problem (stderr; `problems` with --json),
 * so that `distkv cluster && echo healthy` is true only of a cluster where every shard has a
 * leader that serves it and every replica follows its leader:
 *
 *  - a node that does not answer (a leader or a replica), a leader held behind its replica or
 *    without its etcd lease, a node refusing slots another config gives another leader (these
 *    exited 1 before, with their lines on stdout); a leader whose store refuses every write, its
 *    directory removed while it runs (`local_error` STORE_DIR_LOST: it exited 0 with a healthy
 *    table, cluster-commands.ts);
 *  - a replica whose lag is unknown: its node answers but it does not follow its leader
 *    (disconnected, starting, held, failed; one resyncing is named so, below; one whose own disk
 *    failed, `disk-failed` with its `local_error`, is named so too, before what its leader says
 *    (it showed `disconnected`, and the line sent an operator to its leader; one whose store
 *    directory was removed while it runs, STORE_DIR_LOST, showed `streaming` while its leader took
 *    no writes, and is told to restart with --repair, not to wait), or its leader,
 *    asked too, has heard no pull of it lately (it follows another leader). That exited 0, a
 *    "lag unknown" in the table only.
 *
 * A replica's leader says what it heard of its pulls (`/cluster` → `replicas[].leader_view`,
 * src/http/replica-pulls.ts): its acked seq, when it last pulled, a refusal (a wrong token: 401),
 * the snapshot stream it sends a replica that resyncs; the lines carry it. It is parsed here as any
 * node's answer, field by field.
 *
 * A replica resyncing from a snapshot (its node says `resyncing`, or its leader streams it one) is
 * named as such, "is resyncing from a snapshot", not as a replica that does not follow: it is
 * catching up, for minutes with a large shard, while its last pull grows old. It is still a
 * problem (exit 1): until it has caught up it serves no reads (503) and `w=N` writes cannot count
 * on it, and the command's exit 0 promises every replica follows its leader.
 */

/** LeaderViewOfReplica is a replica's `leader_view` as read from its leader's /cluster. */
export interface LeaderViewOfReplica {
  never_pulled: boolean;
  acked_seq?: number;
  lag_seqs?: number;
  last_pull_ms_ago?: number;
  following: boolean;
  refused?: { code: string; ms_ago: number };
  resyncing?: true;
  last_snapshot_ms_ago?: number;
  snapshot_bytes?: number;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** leaderViewOf reads a replica's `leader_view` (undefined when absent or not an object: older nodes). */
export function leaderViewOf(raw: unknown): LeaderViewOfReplica | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const v = raw as Record<string, unknown>;
  const refused = (typeof v.refused === 'object' && v.refused !== null ? v.refused : {}) as Record<
    string,
    unknown
  >;
  const code = typeof refused.code === 'string' ? refused.code.slice(0, 64) : undefined;
  const acked = num(v.acked_seq);
  const lag = num(v.lag_seqs);
  const last = num(v.last_pull_ms_ago);
  const refusedAgo = num(refused.ms_ago);
  const snapshotAgo = num(v.last_snapshot_ms_ago);
  const snapshotBytes = num(v.snapshot_bytes);
  return {
    never_pulled: v.never_pulled === true,
    ...(acked === undefined ? {} : { acked_seq: acked }),
    ...(lag === undefined ? {} : { lag_seqs: lag }),
    ...(last === undefined ? {} : { last_pull_ms_ago: last }),
    following: v.following === true,
    ...(code === undefined || refusedAgo === undefined ? {} : { refused: { code, ms_ago: refusedAgo } }),
    ...(v.resyncing === true ? { resyncing: true as const } : {}),
    ...(snapshotAgo === undefined ? {} : { last_snapshot_ms_ago: snapshotAgo }),
    ...(snapshotBytes === undefined ? {} : { snapshot_bytes: snapshotBytes }),
  };
}

/** mib writes a byte count in MiB, one decimal. */
const mib = (bytes: number): string => `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;

/** snapshotNote says what the leader sent of a replica's snapshot stream: `12.0 MiB, last sent 80 ms ago`. */
function snapshotNote(v: LeaderViewOfReplica): string {
  return `${mib(v.snapshot_bytes ?? 0)}, last sent ${v.last_snapshot_ms_ago ?? '?'} ms ago`;
}

/** describeLeaderView says what a replica's leader heard of its pulls, for a problem line or the table. */
export function describeLeaderView(v: LeaderViewOfReplica): string {
  const heard = v.never_pulled
    ? 'has heard no pull of it since it started'
    : `last heard a pull of it ${v.last_pull_ms_ago ?? '?'} ms ago${v.acked_seq === undefined ? '' : ` (at seq ${v.acked_seq}${v.lag_seqs === undefined ? '' : `, ${v.lag_seqs} seq${v.lag_seqs === 1 ? '' : 's'} behind`})`}`;
  const refused =
    v.refused === undefined
      ? ''
      : ` and refused the last one ${v.refused.ms_ago} ms ago with ${v.refused.code}`;
  const snapshot = v.resyncing === true ? `; it is streaming it a snapshot (${snapshotNote(v)})` : '';
  return `its leader ${heard}${refused}${snapshot}`;
}

/** ReplicaHealth is what replicaProblem reads of a merged replica of `distkv cluster`. */
export interface ReplicaHealth {
  address: string;
  down: boolean;
  state?: string;
  lag_seqs?: number | null;
  last_contact_ms_ago?: number;
  /** local_error is the code of the replica's own disk's failure, with state `disk-failed`. */
  local_error?: string;
  /** error is why the replica's store did not open, with state `failed` (admin-routes.ts). */
  error?: string;
  leader_view?: LeaderViewOfReplica;
}

/**
 * resyncing tells a replica that is catching up through a snapshot: its node says `resyncing` and
 * its leader, when it says anything, streams it one or hears its pulls (it replays the log up to
 * the snapshot's exactSeq); or its node does not tell its lag and its leader streams it one. A
 * replica whose node says `resyncing` but whose leader neither streams it a snapshot nor hears it
 * (its resync fails, over and over) does not follow its leader.
 */
function resyncing(r: ReplicaHealth): boolean {
  const v = r.leader_view;
  if (r.state === 'resyncing') return v === undefined || v.resyncing === true || v.following;
  return r.lag_seqs == null && v?.resyncing === true;
}

/**
 * replicaProblem is the problem line of replica `r` of shard `shard`, or undefined when it follows
 * its leader (its own node shows its lag, and its leader, when asked, heard it pull lately).
 */
export function replicaProblem(shard: string, r: ReplicaHealth): string | undefined {
  const leader = r.leader_view === undefined ? '' : `; ${describeLeaderView(r.leader_view)}`;
  if (r.down) return `${shard}: replica ${r.address} does not answer${leader}`;
  // The replica's own word about its disk comes before its leader's "resyncing": a leader that
  // streamed it a whole snapshot says so for 30 s while the load failed on the replica's disk
  // (its node says `disk-failed` while its resyncs fail, lag.ts; the leader's view, appended,
  // tells an attempt's progress).
  // A store directory removed while the node runs does not come back by itself (the store refuses
  // every write, and the next start refuses the store): it needs the node restarted with --repair.
  // A store that did not open at the node's start (its own /cluster says why): no leader helps it.
  if (r.state === 'failed')
    return `${shard}: replica ${r.address}'s store did not open: ${(r.error ?? 'no reason given').slice(0, 400)}; fix what it names and restart that node (a store whose directory was lost: start it with --repair, it opens empty and resyncs from its leader)${leader}`;
  if (r.state === 'disk-failed' && r.local_error === 'STORE_DIR_LOST')
    return `${shard}: replica ${r.address} does not follow its leader: its store directory on that node was removed or replaced while it runs (STORE_DIR_LOST): it takes nothing more of its leader and what it holds is gone at the next start; stop that node and start it with --repair (the replica opens empty and resyncs from its leader)${leader}`;
  if (r.state === 'disk-failed')
    return `${shard}: replica ${r.address} does not follow its leader: its own disk failed (${String(r.local_error).slice(0, 64)}), not its leader; fix that node's disk (its log and /stats lastError name the directory and the error); it resumes by itself${leader}`;
  if (resyncing(r))
    return `${shard}: replica ${r.address} is resyncing from a snapshot of its leader: it serves no reads and w=N writes cannot count on it until it has caught up (run distkv cluster again)${leader}`;
  if (r.lag_seqs == null && r.state === undefined)
    return `${shard}: replica ${r.address} does not follow its leader: its node answers but shows no replica of the shard there (it routes with an older live map, or runs an older distkv)${leader}`;
  if (r.lag_seqs == null) {
    const contact =
      r.last_contact_ms_ago === undefined
        ? 'its leader has not answered it since it started'
        : `its leader last answered it ${r.last_contact_ms_ago} ms ago`;
    return `${shard}: replica ${r.address} does not follow its leader (${r.state ?? 'unknown'}, lag unknown; ${contact})${leader}`;
  }
  if (r.leader_view !== undefined && !r.leader_view.following)
    return `${shard}: replica ${r.address} says it follows, but ${describeLeaderView(r.leader_view)} (it may follow another leader: run distkv cluster again)`;
  return undefined;
}

/** leaderNote is the table's short form of a replica's leader_view: `leader: last pull 812 ms ago at seq 41`. */
export function leaderNote(v: LeaderViewOfReplica): string {
  const pull = v.never_pulled
    ? 'leader: no pull since it started'
    : `leader: last pull ${v.last_pull_ms_ago ?? '?'} ms ago${v.acked_seq === undefined ? '' : ` at seq ${v.acked_seq}`}`;
  const refused = v.refused === undefined ? pull : `${pull}, which it refused with ${v.refused.code}`;
  return v.resyncing === true ? `${refused}, streaming it a snapshot: ${snapshotNote(v)}` : refused;
}
