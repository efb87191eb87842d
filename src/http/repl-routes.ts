/**
 * Internal replication endpoints (docs/architecture.md "Replication", docs/api.md), token-protected
 * when a token is configured; the checks both replication routes make are in repl-checks.ts:
 *   GET /_repl/pull?shard=I&after=SEQ&epoch=E&max_bytes=B&wait_ms=W&replica=ID&config=HASH&history=H
 *       [&ladder=S1:CRC1,S2:CRC2,...]
 *       (both routes: 409 CONFIG_MISMATCH first when HASH is not this node's topology hash)
 *       H, the replica's history id (absent: not checked), other than the leader's with SEQ > 0:
 *       409 DIVERGED with fork 0 (src/replication/history-check.ts); not an id: 400
 *       The ladder (a replica's first pull after a (re)connect; absent: not checked) is the crc32c
 *       of the replica's records at seqs SEQ, SEQ-1, SEQ-2, SEQ-4, ... down to 1, those it holds,
 *       as decimal seq ":" hex crc: one that differs from the leader's record there (a leader put
 *       back from an older copy of itself) is 409 DIVERGED at the highest matching seq below it
 *       (src/replication/record-ladder.ts); not decimal:hex, or seqs not some of SEQ, SEQ-1,
 *       SEQ-2, SEQ-4, ..., 1 in that order: 400 INVALID_ARGUMENT naming `ladder`
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
 *       | 503 REPLICATION_BUSY with Retry-After (the pulls its worker answers hold the node's bound:
 *         repl-admission.ts; a pull granted less than B is answered with less)
 *       X-Distkv-Leader-Seq: the leader's last seq; X-Distkv-Epoch: the leader's epoch;
 *       X-Distkv-Records-Epoch: the epoch of the records sent (src/replication/epochs.ts);
 *       X-Distkv-History: the leader's history id (on 200, 204 and 409 DIVERGED; absent: it has none)
 *       `after` is the replica's ack: only configured replicas are heard, so `w=N` counts only them.
 *       Once the process stops, a pull waits no more: parked ones are answered at once with what
 *       the log holds (every write acknowledged before the stop), with `Connection: close`
 *       (src/util/stop-wakes.ts).
 *   GET /_repl/snapshot?shard=I&replica=ID&config=HASH
 *       a snapshot stream (src/replication/snapshot-format.ts), paged from the leader's worker
 *       (pages bounded in entries and bytes) and written with backpressure: snapshot-route.ts,
 *       once the request passed the checks it shares with the pull (repl-checks.ts).
 *       X-Distkv-Snapshot-Seq: its seq S; X-Distkv-Epoch: the epoch of the leader's record at S
 *       (the replica's next pull names it: its own map may not know the leader's newer epoch yet);
 *       X-Distkv-History: the leader's history id, which the replica takes
 *       | 503 LEADER_BEHIND (as a pull: the leader's store is not the shard; `distkv backup` reads
 *         this stream, and a stream held behind while it ran is cut before its end)
 *       | 503 REPLICATION_BUSY with Retry-After (the store has as many streams open as a node
 *         serves at once: repl-admission.ts)
 *   /next-replication-key, /delete-replication-key?key&value
 *       the seed's protocol, as a compatibility cursor on the log of the leaders at this address:
 *       seed-routes.ts.
 */
import { DistkvError } from '../errors.js';
import { divergedError } from '../replication/epochs.js';
import { MAX_PULL_BYTES } from '../replication/http-source.js';
import { parseLadder } from '../replication/record-ladder.js';
import { isHistoryId } from '../storage/history-format.js';
import { authError } from './auth.js';
import { ReplAdmission, RETRY_AFTER } from './repl-admission.js';
import type { HttpContext } from './context.js';
import type { HttpResponse } from './http1-exchange.js';
import { intParam } from './request-parse.js';
import { sendError, statusLine } from './respond.js';
import { answerLater } from './route.js';
import type { Router } from './router.js';
import { serveSnapshot } from './snapshot-route.js';
import { heardBy, type PullNote, type SnapshotNote } from './replica-pulls.js';
import {
  checkBehind,
  checkLease,
  internal,
  leaderTarget,
  refusalLog,
  refuseMismatch,
  replicaOf,
  shardOf,
} from './repl-checks.js';
import { registerSeedReplication } from './seed-routes.js';

const MAX_WAIT_MS = 60000;

/**
 * registerReplRoutes adds /_repl/pull, /_repl/snapshot and the seed's replication endpoints. It
 * returns what writes the summaries their log of refusals still holds (how many were refused
 * since its last line), for the node's stop (front-door.ts, closeLogs): they were lost there.
 */
export function registerReplRoutes(app: Router, ctx: HttpContext): () => void {
  registerSeedReplication(app, ctx);
  const refusals = refusalLog(ctx);
  const admission = new ReplAdmission();
  const pullNote = (params: ReadonlyMap<string, string>): PullNote | undefined =>
    ctx.replicaPulls.noteOf(ctx.liveMap.current, params);
  const snapshotNote = (params: ReadonlyMap<string, string>): SnapshotNote | undefined =>
    ctx.replicaPulls.snapshotNoteOf(ctx.liveMap.current, params);
  app.get(
    '/_repl/pull',
    internal(
      ctx,
      // The query is parsed once, by heardBy, which records the pull for /cluster's leader_view.
      heardBy(pullNote, (res, req, params, heard) => {
        const denied = authError(req, ctx.config.server.token);
        if (denied) throw denied;
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
        const history = historyParam(params);
        const ladderText = params.get('ladder');
        const ladder = ladderText === undefined ? undefined : parseLadder(ladderText, after);
        const replica = replicaOf(ctx, shard, params.get('replica'));
        const t = leaderTarget(ctx, shard);
        checkLease(ctx, shard);
        checkBehind(ctx, shard);
        // Bounded per worker (repl-admission.ts): refused before any work, or granted what is
        // left of the bound, held until the worker's answer comes. A pull at or past the leader's
        // last seq parks (a caught-up replica's long poll): it builds nothing now, and what it is
        // answered is what is written while it waits, so it is not charged. Charged, two such
        // pulls of 64 MiB held the worker's whole bound for their wait (up to 60 s), and the real
        // replicas' pulls were refused meanwhile, until a write woke them.
        const parks = waitMs > 0 && after >= ctx.pool.lastSeq(t.store);
        const grant = admit(res, heard, () =>
          parks ? admission.parked(maxBytes) : admission.pull(t.worker, maxBytes, shard),
        );
        if (grant === undefined) return;
        const pull = (): ReturnType<typeof ctx.pool.call> => {
          heard?.sent();
          return ctx.pool.call(t.worker, {
            type: 'repl-pull',
            store: t.store,
            after,
            maxBytes: grant.bytes,
            waitMs,
            replica,
            epoch,
            ...(history === undefined ? {} : { history }),
            ...(ladder === undefined ? {} : { ladder }),
          });
        };
        // A leader that started behind hears here that this replica holds more: a claim, held on its
        // node's word only (behind-leaders.ts); this pull is refused while it is checked and after.
        const check = ctx.behindLeaders?.pulled(shard, replica, after, res.peer);
        const work =
          check === undefined
            ? pull()
            : check.then((refusal) => {
                checkBehind(ctx, shard);
                if (refusal !== undefined) throw refusal;
                return pull();
              });
        answerLater(
          res,
          work.finally(() => {
            grant.release();
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
              sendDiverged(
                r,
                divergedError(epoch, after, reply.fork),
                reply.fork,
                reply.epoch,
                reply.history,
              );
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
                .writeHeader('X-Distkv-Records-Epoch', String(reply.recordsEpoch));
              if (reply.history !== null) r.writeHeader('X-Distkv-History', reply.history);
              r.endWithoutBody();
            } else {
              heard?.answered();
              r.writeHeader('Content-Type', 'application/octet-stream')
                .writeHeader('X-Distkv-Leader-Seq', String(reply.leaderSeq))
                .writeHeader('X-Distkv-Epoch', String(reply.epoch))
                .writeHeader('X-Distkv-Records-Epoch', String(reply.recordsEpoch));
              if (reply.history !== null) r.writeHeader('X-Distkv-History', reply.history);
              r.end(new Uint8Array(reply.buffer, 0, reply.length));
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
    internal(
      ctx,
      // A replica's snapshot stream is recorded too: it resyncs through it, pulling nothing meanwhile.
      heardBy(snapshotNote, (res, req, params, heard) => {
        const denied = authError(req, ctx.config.server.token);
        if (denied) throw denied;
        refuseMismatch(ctx, refusals, params, 'snapshot');
        const shard = shardOf(ctx, params);
        const t = leaderTarget(ctx, shard);
        checkLease(ctx, shard);
        // A leader that started behind its replica holds an empty or older shard: its snapshot is
        // not the shard (a backup took it, exit 0, and a restore of that file lost every key).
        checkBehind(ctx, shard);
        // A few streams per store at once (repl-admission.ts): each holds its slot until it ends.
        const done = admit(res, heard, () => admission.snapshot(t.store, shard));
        if (done === undefined) return;
        heard?.started();
        serveSnapshot(ctx, res, shard, t, heard, done);
      }),
    ),
  );
  return () => {
    refusals.close();
  };
}

/**
 * admit returns what `take` grants, or answers its REPLICATION_BUSY refusal with Retry-After (not
 * executed: ask again) and returns undefined; any other error is thrown on.
 */
function admit<T>(
  res: HttpResponse,
  heard: { refused(err: unknown): void } | undefined,
  take: () => T,
): T | undefined {
  try {
    return take();
  } catch (err) {
    if (!(err instanceof DistkvError) || err.code !== 'REPLICATION_BUSY') throw err;
    heard?.refused(err);
    sendError(res, err, RETRY_AFTER);
    return undefined;
  }
}

/** sendDiverged answers 409 DIVERGED with the fork seq in a header and in the JSON body. */
function sendDiverged(
  res: HttpResponse,
  e: DistkvError,
  fork: number,
  epoch: number,
  history: string | null,
): void {
  res.code = e.code;
  res
    .writeStatus(statusLine(409))
    .writeHeader('Content-Type', 'application/json')
    .writeHeader('X-Distkv-Fork-Seq', String(fork))
    .writeHeader('X-Distkv-Epoch', String(epoch));
  if (history !== null) res.writeHeader('X-Distkv-History', history);
  res.end(`${JSON.stringify({ error: { code: e.code, message: e.message, fork } })}\n`);
}

/** historyParam reads a pull's `history` (the replica's history id): absent, or 400 when it is not one. */
function historyParam(params: ReadonlyMap<string, string>): string | undefined {
  const h = params.get('history');
  if (h === undefined) return undefined;
  if (isHistoryId(h)) return h;
  throw new DistkvError(
    'INVALID_ARGUMENT',
    `history must be 32 lowercase hex digits, got ${JSON.stringify(String(h).slice(0, 64))}`,
  );
}
