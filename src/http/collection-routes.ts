/**
 * Multi-key routes: `GET /kv?prefix=P&limit=L&after=K` (a page of keys in byte order, merged across
 * all shards, bounded in count and in bytes) and `POST /kv/_batch` (a JSON list of set/delete operations, applied per shard in
 * order, one result per operation). The plans and the merge are in scatter-merge.ts; this file
 * sends the parts to the workers and, through the Forwarder, to the other nodes.
 *
 * Values are binary-safe: in JSON a value is a UTF-8 string when it is valid UTF-8, otherwise (or
 * with `encoding=base64`) it is given as `value_base64`.
 */
import { DistkvError } from '../errors.js';
import { slotOf } from '../routing/slot.js';
import type { OpHandler } from '../server/worker-pool.js';
import { encodeExt, OP_DELETE, OP_PUT, OP_PUT_EXT, ST_ERROR, ST_MISSING } from '../worker/op-format.js';
import { expiryAtOf, isCanonicalBase64, parseBatch, refuseBatchConditionHeader } from './batch-parse.js';
import { hasConditions, runConditionalBatch, unansweredBatch } from './conditional-batch.js';
import { readBody } from './body.js';
import { replicaLagOf, sendDisputed, sendSwitching } from './key-dispatch.js';
import { lagHeader } from '../replication/lag.js';
import { heldReadMessage, leaselessReadMessage, readsHeld } from '../server/map-keeper.js';
import { configMismatch } from './config-check.js';
import type { HttpContext } from './context.js';
import { parseWireError } from './key-request.js';
import { intParam, strictQuery } from './request-parse.js';
import { sendError, sendJson } from './respond.js';
import { readsLeader } from './own-writes.js';
import { answerLater, route } from './route.js';
import type { Router } from './router.js';
import { extOf, versionOf } from './write-conditions.js';
import {
  type BatchResult,
  type IndexedOp,
  type LeaderOnly,
  mergeScan,
  parseShardList,
  planBatch,
  planScan,
  type ScanPage,
  type ScanPlan,
  toWireOp,
  worstLag,
} from './scatter-merge.js';
import { SCAN_PAGE_BYTES } from '../storage/store.js';
import { SCAN_DEFAULT_LIMIT, SCAN_MAX_LIMIT } from './scan-limit.js';
import { prefixShards } from './watch-routes.js';

/**
 * A scan page is bounded in bytes as well as in count (docs/api.md): each part (a local store's
 * page, or another node's answer for its shards) ends after the entry that brings its keys and
 * values to SCAN_PAGE_BYTES, and the merged answer after the one that brings it to
 * SCAN_ANSWER_BYTES (or to the `max_bytes` a forwarding node asks for). What one request makes this
 * node hold is then about (parts × (4 MiB + one value)) while merging and an answer of at most
 * 16 MiB + one value (≤ server.max_value_bytes) of keys and values, ~22 MiB + 1.34 × a value as
 * base64 JSON; without them `limit=10000` over 1 MiB values built ~10 GiB. 4 MiB per part keeps
 * 10,000 small items in one page (a 100-byte item counts ~120 bytes: 1.2 MiB).
 */
const SCAN_ANSWER_BYTES = 16 * 1024 * 1024;
const BATCH_MIN_BODY_BYTES = 16 * 1024 * 1024;

async function scan(
  ctx: HttpContext,
  prefix: Buffer,
  after: Buffer | undefined,
  bounds: { limit: number; maxBytes: number },
  base64: boolean,
  localOnly: boolean,
  leaderOnly: LeaderOnly,
  shards: readonly number[],
): Promise<{ status: number; body: unknown; lag: string | undefined; retryAfter?: true }> {
  const { writes, reads } = ctx.listener;
  const { limit, maxBytes } = bounds;
  const part = { limit, maxBytes: Math.min(SCAN_PAGE_BYTES, maxBytes) };
  const plan = planScan(shards, writes, reads, localOnly, leaderOnly);
  // Taken before the parts are read: a replica only moves on, so its part is at most this far behind.
  let lags = replicaLags(ctx, plan.local);
  const pages: Promise<ScanPage>[] = plan.local.map(({ shard, target: t }) =>
    ctx.pool
      .call(t.worker, { type: 'scan', store: t.store, prefix, after: after ?? null, ...part })
      .then((r) => {
        if (r.type !== 'scan-result') throw new Error(`unexpected ${r.type} for a scan`);
        for (const e of r.entries) {
          const v = versionOf(ctx, shard, e.seq ?? 0);
          if (v !== undefined) e.version = v.slice(1, -1);
        }
        return { entries: r.entries, more: r.more };
      }),
  );
  const unreachable: { shards: number[]; owner: string; error: string }[] = [];
  let mismatch: string | undefined;
  let disputed: DistkvError | undefined;
  for (const [owner, shards] of plan.remote) {
    pages.push(
      ctx.forwarder
        .scan(owner, shards, prefix, after, { ...part, leaderOnly: leaderOnly === true })
        .catch((err: unknown) => {
          if (err instanceof DistkvError) ctx.peers.refusedBy(owner, err.code);
          if (err instanceof DistkvError && err.code === 'CONFIG_MISMATCH')
            mismatch = `owner ${owner}: ${err.message}`;
          // The owner refuses its part as this node refuses its own (slot-gate.ts): so is the scan.
          if (err instanceof DistkvError && err.code === 'SLOTS_DISPUTED')
            disputed = new DistkvError('SLOTS_DISPUTED', `owner ${owner}: ${err.message}`);
          unreachable.push({ shards, owner, error: (err as Error).message });
          return { entries: [], more: false };
        }),
    );
  }
  const parts = await Promise.all(pages);
  const { items, next, nextBase64 } = mergeScan(parts, limit, base64, maxBytes);
  const cursorBytes = nextBase64 === undefined ? {} : { next_base64: nextBase64 };
  // A forwarded part goes to its shards' leader, but says so if a replica there served it.
  for (const p of parts) if (p.replicaLag !== undefined) lags = { ...lags, ...p.replicaLag };
  const lagBody = lags === undefined ? {} : { replica_lag: lags };
  const lag = lags === undefined ? undefined : worstLag(lags);
  if (mismatch !== undefined) {
    ctx.log.error({ err: mismatch }, 'a scan was refused by another node: config mismatch');
    return {
      status: 409,
      body: { error: { code: 'CONFIG_MISMATCH', message: mismatch } },
      lag: undefined,
    };
  }
  if (disputed !== undefined)
    return { status: 503, body: { error: disputed.toWire() }, lag: undefined, retryAfter: true };
  if (unreachable.length > 0) {
    const names = unreachable
      .map(
        (u) => `shard${u.shards.length > 1 ? 's' : ''} ${u.shards.join(', ')} (owner ${u.owner}: ${u.error})`,
      )
      .join('; ');
    return {
      status: 503,
      body: {
        error: { code: 'SHARD_UNREACHABLE', message: `scan incomplete: ${names}` },
        partial: { items, next, ...cursorBytes, ...lagBody },
      },
      lag,
    };
  }
  const missing = plan.missing;
  return {
    status: 200,
    body:
      missing.length > 0
        ? { items, next, ...cursorBytes, ...lagBody, partial: true, missing_shards: missing }
        : { items, next, ...cursorBytes, ...lagBody },
    lag,
  };
}

/**
 * replicaLags gives the X-Distkv-Lag text, by shard, of the parts of a scan that replicas in
 * this process serve (undefined when leaders serve every part).
 */
function replicaLags(ctx: HttpContext, parts: ScanPlan['local']): Record<string, string> | undefined {
  let byShard: Record<string, string> | undefined;
  for (const { shard, target } of parts) {
    const lag = replicaLagOf(ctx, target);
    if (lag !== undefined) (byShard ??= {})[shard] = lagHeader(lag);
  }
  return byShard;
}

/** boundedKeyParam reads a key-like scan parameter (`prefix`, `after`) as bytes, at most `maxKey` of them. */
function boundedKeyParam(text: string | undefined, name: string, maxKey: number): Buffer | undefined {
  if (text === undefined || text === '') return undefined;
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > maxKey)
    throw new DistkvError(
      'INVALID_ARGUMENT',
      `${name} is ${bytes.length} bytes; limit is ${maxKey} (max_key_bytes)`,
    );
  return bytes;
}

/**
 * bytesParam reads a key-like scan parameter given as text (`name`, its UTF-8 bytes) or as
 * `${name}_base64` (any bytes: a prefix or a key that is not UTF-8, as a page's `next_base64`
 * gives one), not both, at most `maxKey` bytes; undefined when neither is given or it is empty.
 */
function bytesParam(
  params: ReadonlyMap<string, string>,
  name: 'prefix' | 'after',
  maxKey: number,
): Buffer | undefined {
  const field = `${name}_base64`;
  const text = params.get(field);
  if (text === undefined) return boundedKeyParam(params.get(name), name, maxKey);
  if (params.has(name)) throw new DistkvError('INVALID_ARGUMENT', `send ${name} or ${field}, not both`);
  if (!isCanonicalBase64(text))
    throw new DistkvError('INVALID_ARGUMENT', `${field} must be canonical base64 (padded), got "${text}"`);
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length > maxKey)
    throw new DistkvError(
      'INVALID_ARGUMENT',
      `${field} is ${bytes.length} bytes; limit is ${maxKey} (max_key_bytes)`,
    );
  return bytes.length === 0 ? undefined : bytes;
}

/**
 * The query parameters of a scan and a batch (docs/api.md; `local`, `shards` and `config` are what
 * nodes send each other): anything else, or one given twice, is a 400 naming it. The flags
 * `local` and `leader` are 0 or 1: `leader=true` read as "not 1" served replicas' stale parts to
 * a client that asked for leaders only.
 */
const SCAN_PARAMS = [
  'prefix',
  'prefix_base64',
  'after',
  'after_base64',
  'limit',
  'encoding',
  'local',
  'leader',
  'shards',
  'config',
  'max_bytes',
] as const;
const BATCH_PARAMS = ['local', 'config'] as const;

/** registerCollectionRoutes adds `GET /kv` and `POST /kv/_batch`. */
export function registerCollectionRoutes(app: Router, ctx: HttpContext): void {
  const maxKey = ctx.config.server.max_key_bytes;
  const maxValue = ctx.config.server.max_value_bytes;
  const batchLimit = Math.max(BATCH_MIN_BODY_BYTES, 2 * maxValue);

  app.get(
    '/kv',
    route(ctx, 'kv_scan', (res, req) => {
      const params = strictQuery(req.getQuery(), SCAN_PARAMS);
      const mismatch = configMismatch(params, ctx.shardMap.hash);
      if (mismatch) throw mismatch;
      const prefix = bytesParam(params, 'prefix', maxKey) ?? Buffer.alloc(0);
      const after = bytesParam(params, 'after', maxKey);
      const limit = intParam(params, 'limit', SCAN_DEFAULT_LIMIT, 1, SCAN_MAX_LIMIT);
      // A forwarding node asks for its part's bound (forwarder.ts); no one can ask for more.
      const maxBytes = intParam(params, 'max_bytes', SCAN_ANSWER_BYTES, 1, SCAN_ANSWER_BYTES);
      const localOnly = intParam(params, 'local', 0, 0, 1) === 1;
      const leaderOnly = intParam(params, 'leader', 0, 0, 1) === 1;
      const encoding = params.get('encoding') ?? 'utf8';
      if (encoding !== 'utf8' && encoding !== 'base64')
        throw new DistkvError('INVALID_ARGUMENT', `encoding must be "utf8" or "base64", got "${encoding}"`);
      // A forwarded part names its shards: the owner may host others (replicas) the asker covers.
      const shardsText = params.get('shards');
      // A prefix holding a whole hash tag has its keys in one slot: only that slot's shard is read.
      const shards =
        shardsText === undefined
          ? prefixShards(ctx, prefix)
          : parseShardList(shardsText, ctx.shardMap.shards.length);
      // A store is read whole: a slot among its slots that a peer's config gives another leader
      // could be missing writes that leader took, so the scan is refused (slot-gate.ts).
      const disputed = ctx.slotGate.shardsRefusal('scan', ctx.shardMap, shards, prefix);
      if (disputed !== undefined) {
        sendDisputed(res, disputed);
        return;
      }
      // A leader here that started behind its replica (an empty or older store) serves nothing (behind-leaders.ts).
      for (const s of shards) {
        const behind = ctx.listener.writes[s]!.local ? ctx.liveMap.behindError(s) : undefined;
        if (behind !== undefined) {
          sendError(res, behind);
          return;
        }
      }
      // A part read from a leader here without its lease, or whose writes a failover holds, could
      // miss writes a new leader took (key-dispatch.ts).
      const held = shards.find((s) => {
        const w = ctx.listener.writes[s]!;
        return w.local && readsHeld(ctx.liveMap, w.role, s);
      });
      if (held !== undefined) {
        const w = ctx.listener.writes[held]!;
        const leaseless = w.local && ctx.liveMap.leaderWithoutLease(w.role, held);
        sendSwitching(res, ctx, leaseless ? leaselessReadMessage(held) : heldReadMessage(held));
        return;
      }
      answerLater(
        res,
        scan(
          ctx,
          prefix,
          after,
          { limit, maxBytes },
          encoding === 'base64',
          localOnly,
          // After a write this connection forwarded to a shard's leader, that shard is read there (own-writes.ts).
          leaderOnly || ((s: number) => readsLeader(ctx, res.connection, s)),
          shards,
        ),
        (r, { status, body, lag, retryAfter }) => {
          if (lag !== undefined) r.writeHeader('X-Distkv-Lag', lag);
          if (retryAfter === true) r.writeHeader('Retry-After', '1');
          sendJson(r, body, status);
        },
      );
    }),
  );

  app.post(
    '/kv/_batch',
    route(ctx, 'kv_batch', (res, req) => {
      const params = strictQuery(req.getQuery(), BATCH_PARAMS);
      const localOnly = intParam(params, 'local', 0, 0, 1) === 1;
      const mismatch = configMismatch(params, ctx.shardMap.hash);
      if (mismatch) throw mismatch;
      refuseBatchConditionHeader(req);
      readBody(res, req, batchLimit, 'body', (body) => {
        const ops = parseBatch(body, maxKey, maxValue);
        answerLater(
          res,
          runBatch(ctx, ops, localOnly, res.connection),
          (r, results) => {
            sendJson(r, { results, errors: results.filter((x) => !x.ok).length });
          },
          // A batch with conditions refused whole for a disputed slot: not executed, retry (Retry-After).
          (r, err) => {
            if (err instanceof DistkvError && err.code === 'SLOTS_DISPUTED') sendDisputed(r, err);
            else sendError(r, err);
          },
        );
      });
    }),
  );
}

/**
 * runBatch applies a batch: its local operations now, each other owner's part forwarded once the
 * writes `connection` forwarded to that owner before have been answered (forwarder.ts, inOrder).
 */
function runBatch(
  ctx: HttpContext,
  ops: ReturnType<typeof parseBatch>,
  localOnly: boolean,
  connection: object,
): Promise<BatchResult[]> {
  if (hasConditions(ops)) return runConditionalBatch(ctx, ops, localOnly, connection);
  const plan = planBatch(
    ops,
    (key) => ctx.shardMap.shardOf(key),
    ctx.listener.writes,
    localOnly,
    (key) => ctx.slotGate.refusal(slotOf(key))?.toWire(),
  );
  return new Promise((resolve) => {
    const results: BatchResult[] = new Array<BatchResult>(ops.length);
    let pending = ops.length;
    const settle = (i: number, r: BatchResult): void => {
      results[i] = r;
      if (--pending === 0) resolve(results);
    };
    if (pending === 0) resolve(results);
    for (const { index, result } of plan.settled) settle(index, result);
    for (const { index, op, target: t } of plan.local) {
      const shard = ctx.shardMap.shardOf(op.key);
      if (ctx.liveMap.writesFenced(shard)) {
        // Held like a single-key write (key-dispatch.ts): not executed, safe to send again.
        const e =
          ctx.liveMap.behindError(shard) ??
          new DistkvError('SWITCHING_LEADER', `shard ${shard}'s leader is being switched; retry shortly`);
        settle(index, { ok: false, error: e.toWire() });
        continue;
      }
      const handler: OpHandler = {
        onReply(status, _seq, value) {
          // A set answered ST_MISSING had an expiry already past: it was written as a delete (op-format.ts).
          settle(
            index,
            status === ST_ERROR
              ? { ok: false, error: parseWireError(value).toWire() }
              : status === ST_MISSING && op.op === 'set'
                ? { ok: true, deleted: true }
                : { ok: true },
          );
        },
      };
      const expiresAtMs = expiryAtOf(op);
      if (op.op === 'set' && expiresAtMs !== 0) {
        const ext = extOf(ctx, ctx.shardMap.shardOf(op.key), undefined, expiresAtMs);
        ctx.pool.submit(t.worker, OP_PUT_EXT, t.store, op.key, encodeExt(ext, op.value), handler);
      } else
        ctx.pool.submit(
          t.worker,
          op.op === 'set' ? OP_PUT : OP_DELETE,
          t.store,
          op.key,
          op.op === 'set' ? op.value : undefined,
          handler,
        );
    }
    // Each part after the writes this connection forwarded to its owner before (forwarder.ts).
    const forward = ([owner, part]: [string, IndexedOp[]]): Promise<void> =>
      ctx.forwarder
        .inOrder(connection, owner, () =>
          ctx.forwarder.batch(
            owner,
            part.map(({ op }) => toWireOp(op)),
          ),
        )
        .then(
          (answers) => {
            part.forEach(({ index }, k) => {
              const a = answers[k]!;
              if (!a.ok) ctx.peers.refusedBy(owner, a.error.code);
              settle(index, a);
            });
          },
          (err: unknown) => {
            if (err instanceof DistkvError) ctx.peers.refusedBy(owner, err.code);
            for (const { index, op } of part) {
              const shard = ctx.shardMap.shardOf(op.key);
              const error =
                err instanceof DistkvError
                  ? { code: err.code, message: `shard ${shard} (owner ${owner}) refused: ${err.message}` }
                  : unansweredBatch(shard, owner, err).toWire();
              settle(index, { ok: false, error });
            }
          },
        );
    for (const entry of plan.remote) void forward(entry);
  });
}
