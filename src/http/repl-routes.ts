/**
 * Internal replication endpoints (design section 6), token-protected when a token is configured:
 *   GET /_repl/pull?shard=I&after=SEQ&max_bytes=B&wait_ms=W&replica=ID
 *       200 records in WAL framing | 204 nothing new within wait_ms | 410 LOG_GONE (resync)
 *       | 409 REPLICA_AHEAD (`after` beyond the leader's last seq: resync)
 *       | 403 UNKNOWN_REPLICA (ID is not a replica of shard I in the topology)
 *       X-Distkv-Leader-Seq: the leader's last seq
 *       `after` is the replica's ack: only configured replicas are heard, so `w=N` counts only them.
 *   GET /_repl/snapshot?shard=I
 *       a snapshot stream (src/replication/snapshot-format.ts), paged from the leader's worker
 *       and written with backpressure.
 *   /next-replication-key, /delete-replication-key?key&value
 *       the seed's protocol, as a compatibility cursor on the log of the leaders at this address
 *       (src/replication/seed-cursor.ts); any method, seed texts.
 */
import { DistkvError, toDistkvError } from '../errors.js';
import { encodeSnapshotExactSeq, encodeSnapshotHeader } from '../replication/snapshot-format.js';
import type { Target } from '../server/node-plan.js';
import { authError } from './auth.js';
import { configMismatch } from './config-check.js';
import type { HttpContext } from './context.js';
import { intParam, parseQuery } from './request-parse.js';
import { queryOf, sendError, sendSeedText } from './respond.js';
import type { HttpResponse, TemplatedApp } from './uws.js';

const MAX_WAIT_MS = 60000;
const MAX_PULL_BYTES = 64 * 1024 * 1024;
const SNAPSHOT_PAGE = 10000;

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
function seedLeaders(ctx: HttpContext): { worker: number; store: number }[] {
  return ctx.plan.stores
    .filter((st) => st.role === 'leader' && st.node === ctx.listener.address)
    .sort((a, b) => a.shard.idx - b.shard.idx)
    .map((st) => ({ worker: st.worker, store: st.index }));
}

async function seedNext(ctx: HttpContext): Promise<{ key: string; value: string }> {
  for (const l of seedLeaders(ctx)) {
    const r = await ctx.pool.call(l.worker, { type: 'seed-next', stores: [l.store] });
    if (r.type === 'seed-result' && r.change !== null) return r.change;
  }
  return { key: '', value: '' };
}

async function seedAck(ctx: HttpContext, key: string, value: string): Promise<boolean> {
  for (const l of seedLeaders(ctx)) {
    const r = await ctx.pool.call(l.worker, { type: 'seed-ack', stores: [l.store], key, value });
    if (r.type === 'seed-result' && r.acked) return true;
  }
  return false;
}

function registerSeedReplication(app: TemplatedApp, ctx: HttpContext): void {
  const answer = (res: HttpResponse, work: Promise<(r: HttpResponse) => void>): void => {
    const state = { aborted: false };
    res.onAborted(() => {
      state.aborted = true;
    });
    work.then(
      (write) => {
        if (!isAborted(state))
          res.cork(() => {
            write(res);
          });
      },
      (err: unknown) => {
        if (!isAborted(state))
          res.cork(() => {
            sendSeedText(res, toDistkvError(err).status, `Error: ${toDistkvError(err).message}`);
          });
      },
    );
  };
  app.any('/next-replication-key', (res, req) => {
    const denied = authError(req, ctx.config.server.token);
    if (denied) {
      sendSeedText(res, 401, denied.message);
      return;
    }
    answer(
      res,
      seedNext(ctx).then((change) => (r: HttpResponse) => {
        r.writeHeader('Content-Type', 'application/json').end(`${JSON.stringify(change)}\n`);
      }),
    );
  });
  app.any('/delete-replication-key', (res, req) => {
    const denied = authError(req, ctx.config.server.token);
    if (denied) {
      sendSeedText(res, 401, denied.message);
      return;
    }
    const { params } = parseQuery(queryOf(req));
    const key = params.get('key') ?? '';
    const value = params.get('value') ?? '';
    if (key === '') {
      sendSeedText(res, 400, 'Missing key or value');
      return;
    }
    answer(
      res,
      seedAck(ctx, key, value).then((acked) => (r: HttpResponse) => {
        if (acked) sendSeedText(r, 200, 'ok');
        else
          sendSeedText(
            r,
            500,
            'Error deleting replication key: it is not the next change of the replication log',
          );
      }),
    );
  });
}

/** registerReplRoutes adds /_repl/pull, /_repl/snapshot and the seed's replication endpoints. */
export function registerReplRoutes(app: TemplatedApp, ctx: HttpContext): void {
  registerSeedReplication(app, ctx);
  app.get('/_repl/pull', (res, req) => {
    const state = { aborted: false };
    try {
      const denied = authError(req, ctx.config.server.token);
      if (denied) throw denied;
      const { params } = parseQuery(queryOf(req));
      const mismatch = configMismatch(params, ctx.shardMap.hash);
      if (mismatch) {
        ctx.log.error(
          { replica: params.get('replica'), err: mismatch.message },
          'refused a replica pull: config mismatch',
        );
        throw mismatch;
      }
      const shard = intParam(params, 'shard', -1, 0, 65535);
      const after = intParam(params, 'after', 0, 0, Number.MAX_SAFE_INTEGER);
      const maxBytes = intParam(
        params,
        'max_bytes',
        ctx.config.replication.pull_max_bytes,
        1,
        MAX_PULL_BYTES,
      );
      const waitMs = intParam(params, 'wait_ms', 0, 0, MAX_WAIT_MS);
      const t = leaderTarget(ctx, shard);
      const replica = replicaOf(ctx, shard, params.get('replica'));
      res.onAborted(() => {
        state.aborted = true;
      });
      ctx.pool.call(t.worker, { type: 'repl-pull', store: t.store, after, maxBytes, waitMs, replica }).then(
        (r) => {
          if (state.aborted) return;
          res.cork(() => {
            if (r.type !== 'repl-pull-result') throw new Error(`unexpected ${r.type} for a pull`);
            if (r.gone) {
              sendError(
                res,
                new DistkvError(
                  'LOG_GONE',
                  `seq ${after + 1} is no longer retained by the leader; fetch /_repl/snapshot?shard=${shard}`,
                ),
                { headers: { 'X-Distkv-Leader-Seq': String(r.leaderSeq) } },
              );
            } else if (r.buffer === null) {
              res
                .writeStatus('204 No Content')
                .writeHeader('X-Distkv-Leader-Seq', String(r.leaderSeq))
                .endWithoutBody();
            } else {
              res
                .writeHeader('Content-Type', 'application/octet-stream')
                .writeHeader('X-Distkv-Leader-Seq', String(r.leaderSeq))
                .end(new Uint8Array(r.buffer, 0, r.length));
            }
          });
        },
        (err: unknown) => {
          if (!state.aborted) {
            res.cork(() => {
              sendError(res, err);
            });
          }
        },
      );
    } catch (err) {
      sendError(res, err);
    }
  });

  app.get('/_repl/snapshot', (res, req) => {
    try {
      const denied = authError(req, ctx.config.server.token);
      if (denied) throw denied;
      const shard = intParam(parseQuery(queryOf(req)).params, 'shard', -1, 0, 65535);
      const t = leaderTarget(ctx, shard);
      const state = { aborted: false, writable: undefined as (() => void) | undefined };
      res.onAborted(() => {
        state.aborted = true;
        state.writable?.();
      });
      res.onWritable(() => {
        state.writable?.();
        return true;
      });
      streamSnapshot(ctx, res, t, state).catch((err: unknown) => {
        ctx.log.error({ shard, err: toDistkvError(err).message }, 'snapshot stream failed');
        if (!state.aborted) res.close();
      });
    } catch (err) {
      sendError(res, err);
    }
  });
}

async function streamSnapshot(
  ctx: HttpContext,
  res: HttpResponse,
  t: Target & { local: true },
  state: { aborted: boolean; writable: (() => void) | undefined },
): Promise<void> {
  let seq: number | null = null;
  let after: Uint8Array | null = null;
  let started = false;
  for (;;) {
    const r = await ctx.pool.call(t.worker, {
      type: 'repl-snapshot',
      store: t.store,
      after,
      limit: SNAPSHOT_PAGE,
      seq,
    });
    if (r.type !== 'repl-snapshot-result') throw new Error(`unexpected ${r.type} for a snapshot page`);
    if (state.aborted) return;
    const last = r.last;
    const body = new Uint8Array(r.buffer, 0, r.length);
    let ok = true as boolean;
    res.cork(() => {
      if (!started) {
        res
          .writeHeader('Content-Type', 'application/octet-stream')
          .writeHeader('X-Distkv-Snapshot-Seq', String(r.seq));
        res.write(encodeSnapshotHeader(r.seq));
        started = true;
      }
      if (last) {
        // Read after the last page: at least the leader's seq when that page was read (snapshot-format.ts).
        res.write(body);
        res.end(encodeSnapshotExactSeq(Math.max(r.seq, ctx.pool.lastSeq(t.store))));
      } else ok = res.write(body);
    });
    if (last) return;
    seq = r.seq;
    after = r.lastKey;
    if (!ok) {
      await new Promise<void>((resolve) => {
        state.writable = resolve;
      });
      state.writable = undefined;
      if (isAborted(state)) return;
    }
  }
}

/** isAborted reads the flag through a call, so TypeScript does not narrow it across awaits. */
function isAborted(state: { aborted: boolean }): boolean {
  return state.aborted;
}
