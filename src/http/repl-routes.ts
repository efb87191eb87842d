/**
 * Internal replication endpoints (docs/replication.md, docs/api.md), token-protected when a token is configured:
 *   GET /_repl/pull?shard=I&after=SEQ&epoch=E&max_bytes=B&wait_ms=W&replica=ID&config=HASH
 *       (both routes: 409 CONFIG_MISMATCH first when HASH is not this node's topology hash)
 *       200 records in WAL framing | 204 nothing new within wait_ms | 410 LOG_GONE (resync)
 *       | 409 REPLICA_AHEAD (`after` beyond the leader's last seq: resync)
 *       | 409 DIVERGED (E, the epoch of the replica's record at SEQ, is not the leader's epoch
 *         there: the fork seq is in `X-Distkv-Fork-Seq` and the body's `error.fork`)
 *       | 409 STALE_LEADER (E is newer than the leader's epoch: this leader was deposed)
 *       | 403 UNKNOWN_REPLICA (ID is not a replica of shard I in the topology)
 *       | 503 LEADER_BEHIND (this leader started on an empty or older store and a replica holds more:
 *         src/server/behind-leaders.ts; the replica keeps its records and asks again; also a pull
 *         claiming more than such a leader holds that the replica's node did not confirm: that pull
 *         alone is refused, the shard is served)
 *       | 503 SWITCHING_LEADER (with etcd: this leader is past its lease deadline, a replica may lead
 *         now; also a batch read before the deadline and answered after it: docs/failover.md)
 *       X-Distkv-Leader-Seq: the leader's last seq; X-Distkv-Epoch: the leader's epoch;
 *       X-Distkv-Records-Epoch: the epoch of the records sent (src/replication/epochs.ts)
 *       `after` is the replica's ack: only configured replicas are heard, so `w=N` counts only them.
 *       Once the process stops, a pull waits no more: parked ones are answered at once with what
 *       the log holds (every write acknowledged before the stop), with `Connection: close`
 *       (src/util/stop-wakes.ts).
 *   GET /_repl/snapshot?shard=I&replica=ID&config=HASH
 *       a snapshot stream (src/replication/snapshot-format.ts), paged from the leader's worker
 *       (pages bounded in entries and bytes) and written with backpressure: snapshot-route.ts,
 *       once the request passed the checks here, which it shares with the pull.
 *       X-Distkv-Snapshot-Seq: its seq S; X-Distkv-Epoch: the epoch of the leader's record at S
 *       (the replica's next pull names it: its own map may not know the leader's newer epoch yet)
 *       | 503 LEADER_BEHIND (as a pull: the leader's store is not the shard; `distkv backup` reads
 *         this stream, and a stream held behind while it ran is cut before its end)
 *   /next-replication-key, /delete-replication-key?key&value
 *       the seed's protocol, as a compatibility cursor on the log of the leaders at this address
 *       (src/replication/seed-cursor.ts); any method, seed texts. A leader held behind its
 *       replica offers nothing; with no change elsewhere, /next-replication-key is 503
 *       LEADER_BEHIND as text (seedNext), never the empty pair ("caught up").
 */
import { DistkvError, toDistkvError } from '../errors.js';
import { divergedError } from '../replication/epochs.js';
import { MAX_PULL_BYTES } from '../replication/http-source.js';
import type { Target } from '../server/node-plan.js';
import { authError } from './auth.js';
import { configMismatch } from './config-check.js';
import type { HttpContext } from './context.js';
import type { HttpRequest, HttpResponse } from './http1-exchange.js';
import { intParam, parseQuery } from './request-parse.js';
import { noteServerError, sendError, sendSeedText, statusLine } from './respond.js';
import { answerLater, notServingError, route } from './route.js';
import type { Handler, Router } from './router.js';
import { serveSnapshot } from './snapshot-route.js';
import { heardBy } from './replica-pulls.js';
import { LogThrottle, MAX_LOG_KEYS } from '../util/log-throttle.js';

const MAX_WAIT_MS = 60000;
/**
 * checkLease throws SWITCHING_LEADER when this node leads `shard` without its lease (etcd): a
 * replica may lead the shard in a newer epoch, and one that copied this leader's records after
 * publishing its seq could hold records the new epoch never had. The replica backs off and follows
 * the leader its next map names.
 */
function checkLease(ctx: HttpContext, shard: number): void {
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
function checkBehind(ctx: HttpContext, shard: number): void {
  const behind = ctx.liveMap.behindError(shard);
  if (behind !== undefined) throw behind;
}

/**
 * shardOf reads the `shard` parameter, required and one of the map's shards: a pull without it
 * (or naming no shard) was refused as coming from an unknown replica of "shard -1".
 */
function shardOf(ctx: HttpContext, params: ReadonlyMap<string, string>): number {
  const last = ctx.shardMap.shards.length - 1;
  if (!params.has('shard'))
    throw new DistkvError('INVALID_ARGUMENT', `shard is required: an integer in 0..${last}`);
  return intParam(params, 'shard', -1, 0, last);
}

function leaderTarget(ctx: HttpContext, shard: number): Target & { local: true } {
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
function replicaOf(ctx: HttpContext, shard: number, replica: string | undefined): string {
  const configured = ctx.liveMap.current.shards.find((s) => s.idx === shard)?.replicas ?? [];
  if (replica !== undefined && configured.includes(replica)) return replica;
  throw new DistkvError(
    'UNKNOWN_REPLICA',
    `replica must be one of shard ${shard}'s replicas (${configured.join(', ') || 'none configured'}), got ${JSON.stringify(replica ?? '')}`,
  );
}

/** seedLeaders lists the leader stores at this listener's address, in shard order. */
function seedLeaders(ctx: HttpContext): { shard: number; worker: number; store: number }[] {
  return ctx.plan.stores
    .filter((st) => st.role === 'leader' && st.node === ctx.listener.address)
    .sort((a, b) => a.shard.idx - b.shard.idx)
    .map((st) => ({ shard: st.shard.idx, worker: st.worker, store: st.index }));
}

/**
 * seedNext is the next change of the leaders at this address, skipping those held behind a
 * replica (behind-leaders.ts): their store is not the shard, and is offered nothing from. With no
 * change elsewhere it throws the first such shard's refusal (LEADER_BEHIND, or SWITCHING_LEADER
 * once it handed the shard over) rather than the empty pair, which a seed replica reads as "caught
 * up" and stops asking for the shard's records. The refusal goes out as text (seedFail): the
 * seed's replica decodes the body as JSON whatever the status, fails on text and asks again a
 * second later, while a JSON error body would decode as the empty pair.
 */
async function seedNext(ctx: HttpContext): Promise<{ key: string; value: string }> {
  let held: DistkvError | undefined;
  for (const l of seedLeaders(ctx)) {
    const behind = ctx.liveMap.behindError(l.shard);
    if (behind !== undefined) {
      held ??= behind;
      continue;
    }
    const r = await ctx.pool.call(l.worker, { type: 'seed-next', stores: [l.store] });
    if (r.type === 'seed-result' && r.change !== null) return r.change;
  }
  if (held !== undefined) throw held;
  return { key: '', value: '' };
}

/** seedAck advances the cursor of the leader here whose next change is `key`/`value` (none held behind: seedNext offers nothing of theirs). */
async function seedAck(ctx: HttpContext, key: string, value: string): Promise<boolean> {
  for (const l of seedLeaders(ctx)) {
    if (ctx.liveMap.behindError(l.shard) !== undefined) continue;
    const r = await ctx.pool.call(l.worker, { type: 'seed-ack', stores: [l.store], key, value });
    if (r.type === 'seed-result' && r.acked) return true;
  }
  return false;
}

/** seedFail answers a failure in the seed's text format. */
function seedFail(res: HttpResponse, err: unknown): void {
  const e = toDistkvError(err);
  noteServerError(res, err, e.status);
  sendSeedText(res, e.status, `Error: ${e.message}`, e.code);
}

/**
 * seedAuthorized answers 401 in the seed's text format and returns false when the token is missing
 * or wrong, and 503 while the node is starting: its workers are not running yet, and the seed
 * replica's log said "shard worker 0 is not running" where every other route says the node is
 * starting (these routes are served while draining: the stores are still open then).
 */
function seedAuthorized(res: HttpResponse, req: HttpRequest, ctx: HttpContext): boolean {
  const denied = authError(req, ctx.config.server.token);
  if (denied !== undefined) {
    sendSeedText(res, 401, denied.message, denied.code);
    return false;
  }
  if (ctx.state.phase !== 'starting') return true;
  seedFail(res, notServingError('starting'));
  return false;
}

function registerSeedReplication(app: Router, ctx: HttpContext): void {
  app.any(
    '/next-replication-key',
    internal(ctx, (res, req) => {
      if (!seedAuthorized(res, req, ctx)) return;
      answerLater(
        res,
        seedNext(ctx),
        (r, change) => {
          r.writeHeader('Content-Type', 'application/json').end(`${JSON.stringify(change)}\n`);
        },
        seedFail,
      );
    }),
  );
  app.any(
    '/delete-replication-key',
    internal(ctx, (res, req) => {
      if (!seedAuthorized(res, req, ctx)) return;
      const { params } = parseQuery(req.getQuery());
      const key = params.get('key') ?? '';
      const value = params.get('value') ?? '';
      if (key === '') {
        sendSeedText(res, 400, 'Missing key or value', 'MISSING_KEY');
        return;
      }
      answerLater(
        res,
        seedAck(ctx, key, value),
        (r, acked) => {
          if (acked) {
            sendSeedText(r, 200, 'ok');
            return;
          }
          // The seed's status for this, kept for its replicas; logged like every 500 (front-door.ts).
          const text = 'Error deleting replication key: it is not the next change of the replication log';
          noteServerError(r, new Error(`${text} (key ${JSON.stringify(key)})`), 500);
          sendSeedText(r, 500, text, 'INTERNAL');
        },
        seedFail,
      );
    }),
    { write: true },
  );
}

/** internal wraps an internal endpoint (labelled "other" in the metrics; served in every phase). */
function internal(ctx: HttpContext, handler: Handler): Handler {
  return route(ctx, 'other', handler, { always: true });
}

/** Refusal is what a refused replication request's log line says. */
interface Refusal {
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
function refusalLog(ctx: HttpContext): LogThrottle<Refusal> {
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
function refuseMismatch(
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

/**
 * registerReplRoutes adds /_repl/pull, /_repl/snapshot and the seed's replication endpoints. It
 * returns what writes the summaries their log of refusals still holds (how many were refused
 * since its last line), for the node's stop (front-door.ts, closeLogs): they were lost there.
 */
export function registerReplRoutes(app: Router, ctx: HttpContext): () => void {
  registerSeedReplication(app, ctx);
  const refusals = refusalLog(ctx);
  app.get(
    '/_repl/pull',
    internal(
      ctx,
      heardBy(ctx, (res, req, heard) => {
        const denied = authError(req, ctx.config.server.token);
        if (denied) throw denied;
        const { params } = parseQuery(req.getQuery());
        refuseMismatch(ctx, refusals, params, 'pull');
        const shard = shardOf(ctx, params);
        const after = intParam(params, 'after', 0, 0, Number.MAX_SAFE_INTEGER);
        // A larger ask (pull_max_bytes goes up to 1 GiB) is served as the bound, not refused: a
        // replica asking more than a leader reads at once only gets more answers.
        const maxBytes = Math.min(
          intParam(params, 'max_bytes', ctx.config.replication.pull_max_bytes, 1, Number.MAX_SAFE_INTEGER),
          MAX_PULL_BYTES,
        );
        const waitMs = intParam(params, 'wait_ms', 0, 0, MAX_WAIT_MS);
        const epoch = intParam(params, 'epoch', 0, 0, 0xffffffff);
        const replica = replicaOf(ctx, shard, params.get('replica'));
        const t = leaderTarget(ctx, shard);
        checkLease(ctx, shard);
        checkBehind(ctx, shard);
        const pull = (): ReturnType<typeof ctx.pool.call> => {
          heard?.sent();
          return ctx.pool.call(t.worker, {
            type: 'repl-pull',
            store: t.store,
            after,
            maxBytes,
            waitMs,
            replica,
            epoch,
          });
        };
        // A leader that started behind hears here that this replica holds more: a claim, held on its
        // node's word only (behind-leaders.ts); this pull is refused while it is checked and after.
        const check = ctx.behindLeaders?.pulled(shard, replica, after, res.peer);
        answerLater(
          res,
          check === undefined
            ? pull()
            : check.then((refusal) => {
                checkBehind(ctx, shard);
                if (refusal !== undefined) throw refusal;
                return pull();
              }),
          (r, reply) => {
            if (reply.type !== 'repl-pull-result') throw new Error(`unexpected ${reply.type} for a pull`);
            // The process stops: its parked pulls were answered at once (src/util/stop-wakes.ts).
            // The connection closes after the answer, whatever it is, so that the replica's next pull
            // goes to the shard's next owner (or is refused by the stopped listener) instead of
            // being answered at once, again and again, on this one.
            if (reply.stopping) r.closeAfter = true;
            // A long poll read before the deadline may be answered after it.
            checkLease(ctx, shard);
            if (reply.fork !== null) {
              heard?.refused('DIVERGED');
              sendDiverged(r, divergedError(epoch, after, reply.fork), reply.fork, reply.epoch);
            } else if (reply.gone) {
              heard?.refused('LOG_GONE');
              sendError(
                r,
                new DistkvError(
                  'LOG_GONE',
                  `seq ${after + 1} is no longer retained by the leader; fetch /_repl/snapshot?shard=${shard}`,
                ),
                { headers: { 'X-Distkv-Leader-Seq': String(reply.leaderSeq) } },
              );
            } else if (reply.buffer === null) {
              heard?.answered();
              r.writeStatus('204 No Content')
                .writeHeader('X-Distkv-Leader-Seq', String(reply.leaderSeq))
                .writeHeader('X-Distkv-Epoch', String(reply.epoch))
                .writeHeader('X-Distkv-Records-Epoch', String(reply.recordsEpoch))
                .endWithoutBody();
            } else {
              heard?.answered();
              r.writeHeader('Content-Type', 'application/octet-stream')
                .writeHeader('X-Distkv-Leader-Seq', String(reply.leaderSeq))
                .writeHeader('X-Distkv-Epoch', String(reply.epoch))
                .writeHeader('X-Distkv-Records-Epoch', String(reply.recordsEpoch))
                .end(new Uint8Array(reply.buffer, 0, reply.length));
            }
          },
          (r, err) => {
            heard?.refused(err);
            sendError(r, err);
          },
        );
      }),
    ),
  );

  app.get(
    '/_repl/snapshot',
    internal(ctx, (res, req) => {
      const denied = authError(req, ctx.config.server.token);
      if (denied) throw denied;
      const { params } = parseQuery(req.getQuery());
      refuseMismatch(ctx, refusals, params, 'snapshot');
      const shard = shardOf(ctx, params);
      const t = leaderTarget(ctx, shard);
      checkLease(ctx, shard);
      // A leader that started behind its replica holds an empty or older shard: its snapshot is
      // not the shard (a backup took it, exit 0, and a restore of that file lost every key).
      checkBehind(ctx, shard);
      serveSnapshot(ctx, res, shard, t);
    }),
  );
  return () => {
    refusals.close();
  };
}

/** sendDiverged answers 409 DIVERGED with the fork seq in a header and in the JSON body. */
function sendDiverged(res: HttpResponse, e: DistkvError, fork: number, epoch: number): void {
  res.code = e.code;
  res
    .writeStatus(statusLine(409))
    .writeHeader('Content-Type', 'application/json')
    .writeHeader('X-Distkv-Fork-Seq', String(fork))
    .writeHeader('X-Distkv-Epoch', String(epoch))
    .end(`${JSON.stringify({ error: { code: e.code, message: e.message, fork } })}\n`);
}
