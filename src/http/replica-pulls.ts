/**
 * ReplicaPulls: what a leader's node has heard of the pulls of each replica of its shards, for
 * `GET /cluster` (`replicas[].leader_view`, clusterView): a replica in another process was shown as
 * its address alone, so a replica whose own node does not answer (stopped, killed, never started)
 * or whose pulls are all refused (a wrong token: 401) was known to its leader and to nobody else.
 *
 * Kept on the main thread, where every pull arrives (repl-routes.ts): /cluster is answered at once,
 * also while the node starts and its workers replay, and every peer polls it every 2 s with a
 * timeout; asking the leader's worker for its acks (LeaderState.replicas, in /stats) would make a
 * busy worker's node look unreachable. The figures are those of LeaderState, seen from the route:
 *
 *  - `acked_seq`: the `after` of the replica's last pull the leader answered (records, or none new
 *    within the wait): the seq it holds durably, as the leader's `w=N` counts it;
 *  - `last_pull_ms_ago`: since its last pull passed the route's checks (handed to the leader's
 *    worker; a pull parked for its `wait_ms` counts from its arrival, as LeaderState's ack does);
 *  - `following`: that was within the longer of `pull_wait_ms` and that pull's `wait_ms` (a replica
 *    may wait longer than its leader's setting), plus CONTACT_GRACE_MS, as lag.ts judges a leader;
 *  - `refused`: the latest pull or snapshot naming it was refused (its code, how long ago), when
 *    that came after its last answered pull and its last snapshot. A refused request is not
 *    authenticated: the name is its own claim.
 *
 * A replica whose log the leader no longer holds (410 LOG_GONE) resyncs: it reads one long
 * `/_repl/snapshot` stream (minutes for a large shard) and pulls only once it has loaded it. Its
 * pulls alone showed it as not following then (`last_pull_ms_ago` growing), while it was catching
 * up; so the snapshot streams naming it are recorded too (snapshot-route.ts reports each page):
 *
 *  - `last_snapshot_ms_ago`, `snapshot_bytes`: since its latest snapshot stream last sent it a page
 *    (or started, or ended), and how many bytes of pages it has sent;
 *  - `resyncing: true`: that stream started after its last pull and has not been refused since, and
 *    it is open and sent it a page within SNAPSHOT_SILENCE_MS, or it ended complete within that
 *    time (the replica reopens its store, then pulls). `following` is false meanwhile: a replica
 *    loading a snapshot serves no reads and acks nothing a `w=N` write counts.
 *
 * Bounded: only the configured replicas of a shard (in the live map) are recorded.
 */
import { toDistkvError } from '../errors.js';
import type { LiveMap } from '../routing/live-map.js';
import { CONTACT_GRACE_MS } from '../replication/lag.js';
import type { HttpRequest, HttpResponse } from './http1-exchange.js';
import { parseQuery, uintOf } from './request-parse.js';
import type { Handler } from './router.js';

/** MAX_PULL_WAIT_MS bounds a pull's `wait_ms` as the pull route does (repl-routes.ts). */
const MAX_PULL_WAIT_MS = 60000;
/**
 * SNAPSHOT_SILENCE_MS is how long a snapshot stream may send nothing and still count as a resync
 * under way: the bound the replica itself puts on a silent stream (http-source.ts, BODY_IDLE_MS)
 * before it gives up and asks again.
 */
export const SNAPSHOT_SILENCE_MS = 30000;

/** SnapshotRecord is what is known of one snapshot stream to a replica. */
interface SnapshotRecord {
  /** startedAt: when the stream passed the route's checks. */
  startedAt: number;
  /** at: when it last sent a page, started or ended. */
  at: number;
  /** bytes: the bytes of the pages it has sent. */
  bytes: number;
  /** open: it has not ended; complete: it ended with its end marker and crc. */
  open: boolean;
  complete: boolean;
}

/** PullRecord is what is known of one replica's pulls of one shard. */
interface PullRecord {
  /** pulledAt: when its last pull was handed to the leader's worker (0: never). */
  pulledAt: number;
  /** waitMs: that pull's `wait_ms`, how long the leader may park it (its next comes after that). */
  waitMs: number;
  /** acked: the `after` of its last answered pull, and when that pull arrived. */
  acked?: { seq: number; at: number };
  /** refused: the code of its last refused pull or snapshot and when it was refused. */
  refused?: { code: string; at: number };
  /** snapshot: its latest snapshot stream (an earlier one still open reports nothing more). */
  snapshot?: SnapshotRecord;
}

/** LeaderView is `replicas[].leader_view` of GET /cluster (docs/api.md). */
export interface LeaderView {
  /** never_pulled: no pull of it reached this leader since the node started. */
  never_pulled?: true;
  acked_seq?: number;
  lag_seqs?: number;
  last_pull_ms_ago?: number;
  /** following: its last pull reached the leader within its wait (`pull_wait_ms` or longer) + 3 s, and none was refused since. */
  following: boolean;
  refused?: { code: string; ms_ago: number };
  /** resyncing: a snapshot stream to it is under way, or ended complete just now (see the design block). */
  resyncing?: true;
  last_snapshot_ms_ago?: number;
  snapshot_bytes?: number;
}

/** RefusedNote is what every note can record: a refusal (the code of `err`, or `err` itself when a string). */
export interface RefusedNote {
  refused(err: unknown): void;
}

/** PullNote records the outcome of one pull (see the design block). */
export interface PullNote extends RefusedNote {
  /** sent: the pull passed the route's checks and goes to the leader's worker. */
  sent(): void;
  /** answered: the leader answered it with records or with none new (200 / 204). */
  answered(): void;
}

/** SnapshotNote records the course of one snapshot stream (see the design block). */
export interface SnapshotNote extends RefusedNote {
  /** started: the request passed the route's checks; its stream starts. */
  started(): void;
  /** page: a page of `bytes` went out on the stream. */
  page(bytes: number): void;
  /** ended: the stream ended, with its end marker (complete) or cut short (closed, aborted, failed). */
  ended(complete: boolean): void;
}

/** namedReplica is the record key (`shard replica`) of the configured replica of a shard that `params` names, if any. */
function namedReplica(live: LiveMap, params: ReadonlyMap<string, string>): string | undefined {
  const replica = params.get('replica');
  // Read as the route reads it (intParam: digits, leading zeros allowed), so a pull it serves,
  // whose `after` counts for w=N, is recorded under the same shard.
  const shard = uintOf(params.get('shard') ?? '');
  if (replica === undefined || !Number.isSafeInteger(shard)) return undefined;
  if (live.shards.find((s) => s.idx === shard)?.replicas.includes(replica) !== true) return undefined;
  return `${shard} ${replica}`;
}

/** ReplicaPulls holds the PullRecords of a process's leaders (one per process, shared by its listeners). */
export class ReplicaPulls {
  private readonly records = new Map<string, PullRecord>();
  private readonly now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  /**
   * noteOf is the PullNote of a pull whose query names `shard` and `replica`, when that is a
   * replica of that shard in `live`; undefined otherwise (nothing is recorded for it).
   */
  noteOf(live: LiveMap, params: ReadonlyMap<string, string>): PullNote | undefined {
    const named = namedReplica(live, params);
    if (named === undefined) return undefined;
    const after = Number(params.get('after') ?? '0');
    const wait = Number(params.get('wait_ms') ?? '0');
    const waitMs = Number.isFinite(wait) ? Math.min(Math.max(0, wait), MAX_PULL_WAIT_MS) : 0;
    const record = (): PullRecord => this.recordOf(named);
    let arrived = 0;
    return {
      sent: () => {
        arrived = this.now();
        const r = record();
        r.pulledAt = arrived;
        r.waitMs = waitMs;
      },
      answered: () => {
        const r = record();
        if (Number.isSafeInteger(after) && after >= 0 && (r.acked === undefined || arrived >= r.acked.at))
          r.acked = { seq: after, at: arrived };
      },
      refused: (err) => {
        this.refuse(named, err);
      },
    };
  }

  /**
   * snapshotNoteOf is the SnapshotNote of a snapshot request whose query names `shard` and
   * `replica`, when that is a replica of that shard in `live`; undefined otherwise (a backup names
   * no replica: nothing is recorded for it).
   */
  snapshotNoteOf(live: LiveMap, params: ReadonlyMap<string, string>): SnapshotNote | undefined {
    const named = namedReplica(live, params);
    if (named === undefined) return undefined;
    let mine: SnapshotRecord | undefined;
    /** current is this stream's record while it is still the replica's latest. */
    const current = (): SnapshotRecord | undefined =>
      mine !== undefined && this.records.get(named)?.snapshot === mine ? mine : undefined;
    return {
      started: () => {
        const now = this.now();
        mine = { startedAt: now, at: now, bytes: 0, open: true, complete: false };
        const r = this.recordOf(named);
        r.snapshot = mine;
        // Its latest request was not refused: an earlier refusal (the LOG_GONE that sent it here) is past.
        delete r.refused;
      },
      page: (bytes) => {
        const s = current();
        if (s === undefined) return;
        s.at = this.now();
        s.bytes += bytes;
      },
      ended: (complete) => {
        const s = current();
        if (s === undefined || !s.open) return;
        s.at = this.now();
        s.open = false;
        s.complete = complete;
      },
      refused: (err) => {
        this.refuse(named, err);
      },
    };
  }

  private recordOf(key: string): PullRecord {
    let r = this.records.get(key);
    if (r === undefined) this.records.set(key, (r = { pulledAt: 0, waitMs: 0 }));
    return r;
  }

  private refuse(key: string, err: unknown): void {
    this.recordOf(key).refused = {
      code: typeof err === 'string' ? err : toDistkvError(err).code,
      at: this.now(),
    };
  }

  /**
   * view is `leader_view` of `replica` of `shard` (see LeaderView); `leaderSeq` is the leader's last
   * seq here (the lag is measured against it), `pullWaitMs` the long poll's wait.
   */
  view(shard: number, replica: string, leaderSeq: number | undefined, pullWaitMs: number): LeaderView {
    const r = this.records.get(`${shard} ${replica}`);
    const now = this.now();
    const lastAnswered = r?.acked?.at ?? 0;
    const snap = r?.snapshot;
    const refused =
      r?.refused !== undefined && r.refused.at >= lastAnswered && r.refused.at >= r.pulledAt
        ? { code: r.refused.code, ms_ago: Math.max(0, now - r.refused.at) }
        : undefined;
    const pulled = r !== undefined && r.pulledAt > 0;
    const sinceMs = pulled ? Math.max(0, now - r.pulledAt) : undefined;
    const resyncing =
      snap !== undefined &&
      refused === undefined &&
      snap.startedAt >= (r?.pulledAt ?? 0) &&
      (snap.open || snap.complete) &&
      now - snap.at <= SNAPSHOT_SILENCE_MS;
    return {
      ...(pulled ? {} : { never_pulled: true as const }),
      ...(r?.acked === undefined
        ? {}
        : {
            acked_seq: r.acked.seq,
            ...(leaderSeq === undefined ? {} : { lag_seqs: Math.max(0, leaderSeq - r.acked.seq) }),
          }),
      ...(sinceMs === undefined ? {} : { last_pull_ms_ago: sinceMs }),
      following:
        sinceMs !== undefined &&
        sinceMs <= Math.max(pullWaitMs, r?.waitMs ?? 0) + CONTACT_GRACE_MS &&
        refused === undefined &&
        !resyncing,
      ...(refused === undefined ? {} : { refused }),
      ...(resyncing ? { resyncing: true as const } : {}),
      ...(snap === undefined
        ? {}
        : { last_snapshot_ms_ago: Math.max(0, now - snap.at), snapshot_bytes: snap.bytes }),
    };
  }
}

/**
 * heardBy wraps a replication route's handler: it parses the query once (the handler reads its
 * parameters from `params`, not again from `req`), hands it the note `noteOf` makes of the request
 * (undefined when it names no replica of its shard), and records a refusal the handler throws
 * before answering.
 */
export function heardBy<N extends RefusedNote>(
  noteOf: (params: ReadonlyMap<string, string>) => N | undefined,
  handler: (
    res: HttpResponse,
    req: HttpRequest,
    params: ReadonlyMap<string, string>,
    heard: N | undefined,
  ) => void,
): Handler {
  return (res, req) => {
    const { params } = parseQuery(req.getQuery());
    const heard = noteOf(params);
    try {
      handler(res, req, params, heard);
    } catch (err) {
      heard?.refused(err);
      throw err;
    }
  };
}
