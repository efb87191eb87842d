/**
 * The checks both replication routes (`/_repl/pull`, `/_repl/snapshot`: repl-routes.ts) make of a
 * request before it reaches the leader's worker, each throwing the DistkvError it is answered
 * with: the shard named (shardOf) and led here (leaderTarget), the replica configured for it
 * (replicaOf), the leader's lease (checkLease) and whether it started behind (checkBehind), the
 * config the replica routes with (refuseMismatch, whose refusals are logged through refusalLog at
 * most once a minute per peer); and `internal`, the route wrapper of every internal endpoint.
 */
import { DistkvError } from '../errors.js';
import type { Target } from '../server/node-plan.js';
import { configMismatch } from './config-check.js';
import type { HttpContext } from './context.js';
import { intParam } from './request-parse.js';
import { route } from './route.js';
import type { Handler } from './router.js';
import { LogThrottle, MAX_LOG_KEYS } from '../util/log-throttle.js';

/**
 * checkLease throws SWITCHING_LEADER when this node leads `shard` without its lease (etcd): a
 * replica may lead the shard in a newer epoch, and one that copied this leader's records after
 * publishing its seq could hold records the new epoch never had. The replica backs off and follows
 * the leader its next map names.
 */
export function checkLease(ctx: HttpContext, shard: number): void {
  if (ctx.liveMap.leaseless(shard))
    throw new DistkvError(
      'SWITCHING_LEADER',
      `shard ${shard}'s leader here is past its lease deadline (a replica may lead it now): it serves no replication; follow the leader of the newest map`,
    );
}

/**
 * checkBehind throws LEADER_BEHIND when this node's leader of `shard` started behind (empty or older) while a replica
 * holds records (src/server/behind-leaders.ts): the replica keeps its records and asks again,
 * instead of being told it forked and dropping them.
 */
export function checkBehind(ctx: HttpContext, shard: number): void {
  const behind = ctx.liveMap.behindError(shard);
  if (behind !== undefined) throw behind;
}

/**
 * shardOf reads the `shard` parameter, required and one of the map's shards: a pull without it
 * (or naming no shard) was refused as coming from an unknown replica of "shard -1".
 */
export function shardOf(ctx: HttpContext, params: ReadonlyMap<string, string>): number {
  const last = ctx.shardMap.shards.length - 1;
  if (!params.has('shard'))
    throw new DistkvError('INVALID_ARGUMENT', `shard is required: an integer in 0..${last}`);
  return intParam(params, 'shard', -1, 0, last);
}

/** leaderTarget is the leader store of `shard` on this node (WRONG_NODE when another node leads it). */
export function leaderTarget(ctx: HttpContext, shard: number): Target & { local: true } {
  const t = ctx.listener.writes[shard];
  if (t === undefined)
    throw new DistkvError(
      'INVALID_ARGUMENT',
      `shard must be 0..${ctx.shardMap.shards.length - 1}, got ${shard}`,
    );
  if (!t.local)
    throw new DistkvError('WRONG_NODE', `shard ${shard} is led by ${t.address}, not by this node`);
  return t;
}

/** replicaOf returns the `replica` parameter when it names a replica of `shard` in the live map (docs/failover.md). */
export function replicaOf(ctx: HttpContext, shard: number, replica: string | undefined): string {
  const configured = ctx.liveMap.current.shards.find((s) => s.idx === shard)?.replicas ?? [];
  if (replica !== undefined && configured.includes(replica)) return replica;
  throw new DistkvError(
    'UNKNOWN_REPLICA',
    `replica must be one of shard ${shard}'s replicas (${configured.join(', ') || 'none configured'}), got ${JSON.stringify(replica ?? '')}`,
  );
}

/** internal wraps an internal endpoint (labelled "other" in the metrics; served in every phase). */
export function internal(ctx: HttpContext, handler: Handler): Handler {
  return route(ctx, 'other', handler, { always: true });
}

/** Refusal is what a refused replication request's log line says. */
export interface Refusal {
  what: 'pull' | 'snapshot';
  replica: string | undefined;
  err: string;
}

/**
 * refusalLog writes the lines of refused replication requests, at most one a minute per peer and
 * request (src/util/log-throttle.ts): with no `server.token` anyone can send them at request rate,
 * and a line each let them flood the log. The first is written at once; the next line says how many
 * were refused since (each is still counted in the metrics under its code). Past MAX_LOG_KEYS peers
 * and requests, the refusals of further ones are summed up together (`other_replicas`, the lines
 * say so): their lines used to read as one replica's, and all as pulls or all as snapshots, as the
 * last one was.
 */
export function refusalLog(ctx: HttpContext): LogThrottle<Refusal> {
  return new LogThrottle<Refusal>((r, more, sinceMs, shared) => {
    const others = shared ? { other_replicas: true } : {};
    if (more === 0)
      ctx.log.error(
        { replica: r.replica, err: r.err, ...others },
        shared
          ? `refused a replica ${r.what}: config mismatch (too many replica names: the refusals of those past the first ${MAX_LOG_KEYS} are summed up together, at most once a minute)`
          : `refused a replica ${r.what}: config mismatch (more from this replica are summed up at most once a minute)`,
      );
    else
      ctx.log.error(
        shared
          ? { last_replica: r.replica, err: r.err, refused: more, ...others }
          : { replica: r.replica, err: r.err, refused: more },
        shared
          ? `refused ${more} more replication requests (pulls or snapshots) of other replica names in the last ${Math.round(sinceMs / 1000)} s: config mismatch`
          : `refused ${more} more replica ${r.what}s in the last ${Math.round(sinceMs / 1000)} s: config mismatch`,
      );
  });
}

/**
 * refuseMismatch throws 409 CONFIG_MISMATCH (logged through `log`, and the replica's node asked for
 * its config at once) for a pull or snapshot from a replica whose node routes with another config
 * (`config=`): its shard may cover other slots there, and a snapshot of this node's would fill it
 * with keys its reads are not routed to and leave out keys they are.
 */
export function refuseMismatch(
  ctx: HttpContext,
  log: LogThrottle<Refusal>,
  params: ReadonlyMap<string, string>,
  what: Refusal['what'],
): void {
  const mismatch = configMismatch(params, ctx.shardMap.hash);
  if (mismatch === undefined) return;
  // The replica's node routes with another config: it is asked for it at once, as a peer that
  // refused a forwarded request is (a name that is no peer is ignored).
  const replica = params.get('replica');
  if (replica !== undefined) ctx.peers.checkSoon(replica);
  log.note(`${what} ${replica ?? ''}`, { what, replica, err: mismatch.message });
  throw mismatch;
}
