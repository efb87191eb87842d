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
 *  - `refused`: the latest pull naming it was refused (its code, how long ago), when that came
 *    after its last answered one. A refused pull is not authenticated: the name is its own claim.
 *
 * Bounded: only the configured replicas of a shard (in the live map) are recorded.
 */
import { toDistkvError } from '../errors.js';
import type { LiveMap } from '../routing/live-map.js';
import { CONTACT_GRACE_MS } from '../replication/lag.js';
import type { HttpContext } from './context.js';
import type { HttpRequest, HttpResponse } from './http1-exchange.js';
import { parseQuery } from './request-parse.js';
import type { Handler } from './router.js';

/** MAX_PULL_WAIT_MS bounds a pull's `wait_ms` as the pull route does (repl-routes.ts). */
const MAX_PULL_WAIT_MS = 60000;

/** PullRecord is what is known of one replica's pulls of one shard. */
interface PullRecord {
  /** pulledAt: when its last pull was handed to the leader's worker (0: never). */
  pulledAt: number;
  /** waitMs: that pull's `wait_ms`, how long the leader may park it (its next comes after that). */
  waitMs: number;
  /** acked: the `after` of its last answered pull, and when that pull arrived. */
  acked?: { seq: number; at: number };
  /** refused: the code of its last refused pull and when it was refused. */
  refused?: { code: string; at: number };
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
}

/** PullNote records the outcome of one pull (see the design block). */
export interface PullNote {
  /** sent: the pull passed the route's checks and goes to the leader's worker. */
  sent(): void;
  /** answered: the leader answered it with records or with none new (200 / 204). */
  answered(): void;
  /** refused: it was answered with an error (the code of `err`, or `code` itself). */
  refused(err: unknown): void;
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
    const replica = params.get('replica');
    const shardText = params.get('shard') ?? '';
    if (replica === undefined || !/^\d{1,9}$/.test(shardText)) return undefined;
    const shard = Number(shardText);
    if (live.shards.find((s) => s.idx === shard)?.replicas.includes(replica) !== true) return undefined;
    const after = Number(params.get('after') ?? '0');
    const wait = Number(params.get('wait_ms') ?? '0');
    const waitMs = Number.isFinite(wait) ? Math.min(Math.max(0, wait), MAX_PULL_WAIT_MS) : 0;
    const key = `${shard} ${replica}`;
    const record = (): PullRecord => {
      let r = this.records.get(key);
      if (r === undefined) this.records.set(key, (r = { pulledAt: 0, waitMs: 0 }));
      return r;
    };
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
        record().refused = {
          code: typeof err === 'string' ? err : toDistkvError(err).code,
          at: this.now(),
        };
      },
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
    const refused =
      r?.refused !== undefined && r.refused.at >= lastAnswered && r.refused.at >= r.pulledAt
        ? { code: r.refused.code, ms_ago: Math.max(0, now - r.refused.at) }
        : undefined;
    const pulled = r !== undefined && r.pulledAt > 0;
    const sinceMs = pulled ? Math.max(0, now - r.pulledAt) : undefined;
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
        refused === undefined,
      ...(refused === undefined ? {} : { refused }),
    };
  }
}

/**
 * heardBy wraps the pull route's handler: it hands it the PullNote of the pull (undefined when the
 * pull names no replica of its shard) and records a refusal the handler throws before answering.
 */
export function heardBy(
  ctx: HttpContext,
  handler: (res: HttpResponse, req: HttpRequest, heard: PullNote | undefined) => void,
): Handler {
  return (res, req) => {
    const heard = ctx.replicaPulls.noteOf(ctx.liveMap.current, parseQuery(req.getQuery()).params);
    try {
      handler(res, req, heard);
    } catch (err) {
      heard?.refused(err);
      throw err;
    }
  };
}
