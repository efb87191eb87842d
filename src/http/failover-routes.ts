/**
 * Failover admin endpoints (docs/failover.md), token-protected like /_repl:
 *   POST /_admin/map[?by=ID]    body = a live map (src/routing/live-map.ts); adopted when its version
 *                               is higher (with [coordination], stored in etcd first). A map moving
 *                               a shard that another failover than `by` claims here is refused,
 *                               409 MAP_CHANGED (map-keeper.ts `propose`).
 *                               200 {"adopted": bool, "map": current}; 400 when invalid.
 *   POST /_admin/fence?shard=I&on=1|0[&ms=N][&by=ID]
 *                               holds (on=1) or releases (on=0) writes to shard I at this node, which
 *                               must lead it; held writes get 503 SWITCHING_LEADER with Retry-After.
 *                               `by` names the failover: while one holds the shard, a hold by another
 *                               is refused, 409 MAP_CHANGED (src/server/map-keeper.ts); a release by
 *                               `by` ends only that failover's own hold ("acted": false otherwise).
 *                               A hold ends by itself after N ms (default 60000) if no map moved the
 *                               shard meanwhile: a failover command that dies must not leave it held.
 *                               200 {"shard", "epoch", "fenced", "acted", "role", "map_version",
 *                               "last_seq"}: with on=1, last_seq is taken after the writes the leader
 *                               store accepted before the fence have settled. At a node that
 *                               replicates shard I it holds the replica's following instead ("role":
 *                               "replica"): a promotion's target answers a last_seq that stays put
 *                               until the new map, a release or N ms. Such a hold named `by` is that
 *                               failover's claim on the shard (src/server/store-holds.ts): another's
 *                               claim is refused while it lasts, the coordinator's holds are kept.
 */
import { DistkvError } from '../errors.js';
import { authError } from './auth.js';
import { readBody } from './body.js';
import type { HttpContext } from './context.js';
import { intParam, strictQuery } from './request-parse.js';
import { sendJson } from './respond.js';
import { answerLater, route } from './route.js';
import type { Router } from './router.js';

const MAX_MAP_BYTES = 1024 * 1024;
/** DEFAULT_FENCE_MS and MAX_FENCE_MS bound how long a hold lasts when nobody releases it. */
const DEFAULT_FENCE_MS = 60000;
const MAX_FENCE_MS = 3600000;
/** FENCE_PARAMS are the query parameters of /_admin/fence: anything else, or one given twice, is a 400. */
const FENCE_PARAMS = ['shard', 'on', 'ms', 'by'] as const;
/** FENCE_BY is what a failover's name (`by`) may be. */
const FENCE_BY = /^[A-Za-z0-9._-]{1,64}$/;
/** OPERATOR owns a replica hold placed without `by` (any release without `by` ends every hold). */
const OPERATOR = 'operator';
/** MAP_PARAMS are the query parameters of /_admin/map. */
const MAP_PARAMS = ['by'] as const;

/** byParam reads `by`, a failover's name, from `params` (400 when malformed). */
function byParam(params: ReadonlyMap<string, string>): string | undefined {
  const by = params.get('by');
  if (by !== undefined && !FENCE_BY.test(by))
    throw new DistkvError('INVALID_ARGUMENT', `by must be 1..64 of A-Z a-z 0-9 . _ -, got "${by}"`);
  return by;
}

/** fenceShard holds or releases writes to a shard this listener leads; resolves with its last seq. */
async function fenceShard(
  ctx: HttpContext,
  shard: number,
  on: boolean,
  ms: number,
  by: string | undefined,
): Promise<unknown> {
  const t = ctx.listener.writes[shard];
  const live = ctx.liveMap.current.shards.find((s) => s.idx === shard);
  if (t === undefined || live === undefined)
    throw new DistkvError(
      'INVALID_ARGUMENT',
      `shard must be 0..${ctx.shardMap.shards.length - 1}, got ${shard}`,
    );
  // This listener's replica of the shard: a promotion holds its following (its last seq stays put).
  // A hold named `by` is that failover's claim; a release acts on the caller's own hold only
  // (store-holds.ts): a failover's release never ends the coordinator's hold, nor another's claim.
  const own = ctx.plan.stores.find((st) => st.shard.idx === shard && st.node === ctx.listener.address);
  if (own?.role === 'replica') {
    const st = { index: own.index, worker: own.worker };
    let acted = true;
    let lastSeq: number;
    if (on) lastSeq = await ctx.liveMap.holds.hold(st, by ?? OPERATOR, ms, by !== undefined);
    else {
      acted = await ctx.liveMap.holds.release(st, by);
      lastSeq = ctx.pool.lastSeq(own.index);
    }
    return answer(ctx, shard, on, acted, lastSeq, 'replica');
  }
  if (!t.local)
    throw new DistkvError('WRONG_NODE', `shard ${shard} is led by ${t.address}, not by this node`);
  // The worker holds the store's writes too (a write routed before the fence may still be batched)
  // and answers once the writes it accepted have settled, with the store's last seq. A release
  // named by a failover that holds nothing here leaves the worker as it is.
  const acted = ctx.liveMap.fence(
    shard,
    on,
    ms,
    () => {
      void ctx.pool.call(t.worker, { type: 'fence', store: t.store, on: false }).catch(() => undefined);
    },
    by,
  );
  if (!acted) return answer(ctx, shard, on, false, ctx.pool.lastSeq(t.store), 'leader');
  const r = await ctx.pool.call(t.worker, { type: 'fence', store: t.store, on });
  const lastSeq = r.type === 'fence-result' ? r.lastSeq : ctx.pool.lastSeq(t.store);
  return answer(ctx, shard, on, true, lastSeq, 'leader');
}

/**
 * answer is /_admin/fence's reply: `acted` false when a release found nothing of the caller's to
 * release; `map_version` is the node's map once the hold is placed (a failover that read an older
 * one refuses to go on: another changed the shard meanwhile).
 */
function answer(
  ctx: HttpContext,
  shard: number,
  on: boolean,
  acted: boolean,
  lastSeq: number,
  role: 'leader' | 'replica',
): unknown {
  const live = ctx.liveMap.current;
  const epoch = live.shards.find((s) => s.idx === shard)?.epoch ?? 0;
  return {
    shard,
    epoch,
    fenced: on,
    acted,
    role,
    map_version: live.version,
    last_seq: lastSeq,
  };
}

/** registerFailoverRoutes adds /_admin/map and /_admin/fence. */
export function registerFailoverRoutes(app: Router, ctx: HttpContext): void {
  app.post(
    '/_admin/map',
    route(
      ctx,
      'other',
      (res, req) => {
        const denied = authError(req, ctx.config.server.token);
        if (denied) throw denied;
        const by = byParam(strictQuery(req.getQuery(), MAP_PARAMS));
        readBody(res, req, MAX_MAP_BYTES, 'body', (body) => {
          let doc: unknown;
          try {
            doc = JSON.parse(Buffer.from(body).toString('utf8'));
          } catch {
            throw new DistkvError('INVALID_BODY', 'the live map is not JSON');
          }
          const work = ctx.liveMap
            .propose(doc, `POST /_admin/map at ${ctx.listener.address}`, by)
            .then((adopted) => ({ adopted, map: ctx.liveMap.current }));
          answerLater(res, work, (r, value) => {
            sendJson(r, value);
          });
        });
      },
      { always: true },
    ),
  );
  app.post(
    '/_admin/fence',
    route(ctx, 'other', (res, req) => {
      const denied = authError(req, ctx.config.server.token);
      if (denied) throw denied;
      // Strict (request-parse.ts), `shard` and `on` required: a misspelt or missing `on=0` (`om=0`)
      // held the shard's writes for a minute instead of releasing them, and `on=0&on=1` meant
      // whichever came first.
      const params = strictQuery(req.getQuery(), FENCE_PARAMS);
      for (const name of ['shard', 'on'])
        if (!params.has(name))
          throw new DistkvError(
            'INVALID_ARGUMENT',
            `${name} is missing; send shard=I and on=1 (hold) or on=0 (release)`,
          );
      const shard = intParam(params, 'shard', -1, 0, 65535);
      const on = intParam(params, 'on', -1, 0, 1) === 1;
      const ms = intParam(params, 'ms', DEFAULT_FENCE_MS, 1, MAX_FENCE_MS);
      const by = byParam(params);
      answerLater(res, fenceShard(ctx, shard, on, ms, by), (r, value) => {
        sendJson(r, value);
      });
    }),
  );
}
