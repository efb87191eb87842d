/**
 * Multi-key routes: `GET /kv?prefix=P&limit=L&after=K` (a page of keys in byte order, merged across
 * the shards this process hosts) and `POST /kv/_batch` (a JSON list of set/delete operations,
 * applied per shard in order, one result per operation).
 *
 * Values are binary-safe: in JSON a value is a UTF-8 string when it is valid UTF-8, otherwise (or
 * with `encoding=base64`) it is given as `value_base64`.
 */
import { DistkvError, toDistkvError, type WireError } from '../errors.js';
import { compareBytes } from '../util/bytes.js';
import type { ScanEntry } from '../worker/messages.js';
import { OP_DELETE, OP_PUT, ST_ERROR } from '../worker/op-format.js';
import type { OpHandler } from '../server/worker-pool.js';
import type { Target } from '../server/node-plan.js';
import { contentLengthError, readBody } from './body.js';
import { configMismatch } from './config-check.js';
import type { HttpContext } from './context.js';
import { parseWireError } from './key-request.js';
import { errorCodeOf, secondsSince } from './http-metrics.js';
import { refuseIfNotServing } from './kv-routes.js';
import { checkKey, intParam, parseQuery } from './request-parse.js';
import { queryOf, sendError, sendJson } from './respond.js';
import type { HttpResponse, TemplatedApp } from './uws.js';

const SCAN_DEFAULT_LIMIT = 100;
const SCAN_MAX_LIMIT = 10000;
const BATCH_MAX_OPS = 10000;
const BATCH_MIN_BODY_BYTES = 16 * 1024 * 1024;
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/** encodeValue renders bytes for JSON: `{value}` when valid UTF-8 (and not forced), else `{value_base64}`. */
export function encodeValue(
  bytes: Uint8Array,
  forceBase64: boolean,
): { value: string } | { value_base64: string } {
  if (!forceBase64) {
    try {
      return { value: STRICT_UTF8.decode(bytes) };
    } catch {
      // not UTF-8: fall back to base64
    }
  }
  return { value_base64: Buffer.from(bytes).toString('base64') };
}

/** scanTarget picks the store a scan reads for a shard: the leader if hosted, else a hosted replica. */
function scanTarget(ctx: HttpContext, shard: number): (Target & { local: true }) | undefined {
  const w = ctx.listener.writes[shard]!;
  if (w.local) return w;
  const r = ctx.listener.reads[shard]!;
  return r.local ? r : undefined;
}

async function scan(
  ctx: HttpContext,
  prefix: Buffer,
  after: Buffer | undefined,
  limit: number,
  base64: boolean,
  localOnly: boolean,
): Promise<{ status: number; body: unknown }> {
  const missing: number[] = [];
  const remote = new Map<string, number[]>();
  const pages: Promise<{ entries: ScanEntry[]; more: boolean }>[] = [];
  for (const s of ctx.shardMap.shards) {
    const t = scanTarget(ctx, s.idx);
    if (t === undefined) {
      const owner = ctx.listener.writes[s.idx]!;
      if (!localOnly && !owner.local)
        remote.set(owner.address, [...(remote.get(owner.address) ?? []), s.idx]);
      else missing.push(s.idx);
      continue;
    }
    pages.push(
      ctx.pool
        .call(t.worker, { type: 'scan', store: t.store, prefix, after: after ?? null, limit })
        .then((r) => {
          if (r.type !== 'scan-result') throw new Error(`unexpected ${r.type} for a scan`);
          return { entries: r.entries, more: r.entries.length >= limit };
        }),
    );
  }
  const unreachable: { shards: number[]; owner: string; error: string }[] = [];
  let mismatch: string | undefined;
  for (const [owner, shards] of remote) {
    pages.push(
      ctx.forwarder.scan(owner, prefix, after, limit).catch((err: unknown) => {
        if (err instanceof DistkvError && err.code === 'CONFIG_MISMATCH')
          mismatch = `owner ${owner}: ${err.message}`;
        unreachable.push({ shards, owner, error: (err as Error).message });
        return { entries: [], more: false };
      }),
    );
  }
  const results = await Promise.all(pages);
  const more = results.some((r) => r.more);
  const merged = results.flatMap((r) => r.entries).sort((a, b) => compareBytes(a.key, b.key));
  const page = merged.slice(0, limit);
  const items = page.map((e) => ({
    key: Buffer.from(e.key).toString('utf8'),
    ...encodeValue(e.value, base64),
  }));
  const next = (more || merged.length > limit) && page.length > 0 ? items[items.length - 1]!.key : null;
  if (mismatch !== undefined) {
    ctx.log.error({ err: mismatch }, 'a scan was refused by another node: config mismatch');
    void ctx.peers.checkAll();
    return { status: 409, body: { error: { code: 'CONFIG_MISMATCH', message: mismatch } } };
  }
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
        partial: { items, next },
      },
    };
  }
  return {
    status: 200,
    body: missing.length > 0 ? { items, next, partial: true, missing_shards: missing } : { items, next },
  };
}

/** registerCollectionRoutes adds `GET /kv` and `POST /kv/_batch`. */
export function registerCollectionRoutes(app: TemplatedApp, ctx: HttpContext): void {
  const maxKey = ctx.config.server.max_key_bytes;
  const maxValue = ctx.config.server.max_value_bytes;
  const batchLimit = Math.max(BATCH_MIN_BODY_BYTES, 2 * maxValue);

  app.get('/kv', (res, req) => {
    const start = performance.now();
    if (refuseIfNotServing(res, ctx, 'kv_scan', 'GET', start)) return;
    const state = { aborted: false };
    try {
      const { params, bad } = parseQuery(queryOf(req));
      const mismatch = configMismatch(params, ctx.shardMap.hash);
      if (mismatch) throw mismatch;
      if (bad.length > 0)
        throw new DistkvError(
          'INVALID_ARGUMENT',
          `query parameter "${bad[0] ?? ''}" has invalid percent-encoding or UTF-8`,
        );
      const prefix = Buffer.from(params.get('prefix') ?? '', 'utf8');
      const afterText = params.get('after');
      const after = afterText === undefined || afterText === '' ? undefined : Buffer.from(afterText, 'utf8');
      const limit = intParam(params, 'limit', SCAN_DEFAULT_LIMIT, 1, SCAN_MAX_LIMIT);
      const encoding = params.get('encoding') ?? 'utf8';
      if (encoding !== 'utf8' && encoding !== 'base64')
        throw new DistkvError('INVALID_ARGUMENT', `encoding must be "utf8" or "base64", got "${encoding}"`);
      res.onAborted(() => {
        state.aborted = true;
      });
      scan(ctx, prefix, after, limit, encoding === 'base64', params.get('local') === '1').then(
        (r) => {
          finish(res, ctx, state, 'kv_scan', start, r.status, r.body);
        },
        (err: unknown) => {
          finish(res, ctx, state, 'kv_scan', start, 0, err);
        },
      );
    } catch (err) {
      const e = toDistkvError(err);
      sendError(res, e);
      ctx.metrics.observeRequest(
        'kv_scan',
        'GET',
        e.status,
        ctx.listener.address,
        e.code,
        secondsSince(start),
      );
    }
  });

  app.post('/kv/_batch', (res, req) => {
    const start = performance.now();
    if (refuseIfNotServing(res, ctx, 'kv_batch', 'POST', start)) return;
    const { params } = parseQuery(queryOf(req));
    const localOnly = params.get('local') === '1';
    const mismatch = configMismatch(params, ctx.shardMap.hash);
    if (mismatch) {
      sendError(res, mismatch);
      ctx.metrics.observeRequest(
        'kv_batch',
        'POST',
        mismatch.status,
        ctx.listener.address,
        mismatch.code,
        secondsSince(start),
      );
      return;
    }
    const tooBig = contentLengthError(req, batchLimit, 'body');
    if (tooBig) {
      sendError(res, tooBig, { close: true });
      ctx.metrics.observeRequest(
        'kv_batch',
        'POST',
        tooBig.status,
        ctx.listener.address,
        tooBig.code,
        secondsSince(start),
      );
      return;
    }
    const state = { aborted: false };
    res.onAborted(() => {
      state.aborted = true;
    });
    readBody(
      res,
      state,
      batchLimit,
      'body',
      (body) => {
        let ops: BatchOp[];
        try {
          ops = parseBatch(body, maxKey, maxValue);
        } catch (err) {
          const e = toDistkvError(err);
          res.cork(() => {
            sendError(res, e);
          });
          ctx.metrics.observeRequest(
            'kv_batch',
            'POST',
            e.status,
            ctx.listener.address,
            e.code,
            secondsSince(start),
          );
          return;
        }
        runBatch(ctx, ops, localOnly).then(
          (results) => {
            finish(res, ctx, state, 'kv_batch', start, 200, {
              results,
              errors: results.filter((r) => !r.ok).length,
            });
          },
          (err: unknown) => {
            finish(res, ctx, state, 'kv_batch', start, 0, err);
          },
        );
      },
      () => {
        ctx.metrics.observeRequest(
          'kv_batch',
          'POST',
          413,
          ctx.listener.address,
          'BODY_TOO_LARGE',
          secondsSince(start),
        );
      },
    );
  });
}

function finish(
  res: HttpResponse,
  ctx: HttpContext,
  state: { aborted: boolean },
  route: 'kv_scan' | 'kv_batch',
  start: number,
  status: number,
  body: unknown,
): void {
  if (state.aborted) return;
  res.cork(() => {
    if (status === 0) sendError(res, body);
    else sendJson(res, body, status);
  });
  const err = status === 0 ? toDistkvError(body) : undefined;
  ctx.metrics.observeRequest(
    route,
    route === 'kv_scan' ? 'GET' : 'POST',
    err?.status ?? status,
    ctx.listener.address,
    err?.code ?? errorCodeOf(body),
    secondsSince(start),
  );
}

/** BatchOp is one validated operation of a batch, or the error that makes it invalid. */
type BatchOp =
  | { op: 'set'; key: string; value: Buffer }
  | { op: 'delete'; key: string }
  | { op: 'invalid'; error: WireError };

/** BatchResult is one operation's outcome. */
type BatchResult = { ok: true } | { ok: false; error: WireError };

function parseBatch(body: Uint8Array, maxKey: number, maxValue: number): BatchOp[] {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch (err) {
    throw new DistkvError('INVALID_BODY', `body is not valid JSON: ${(err as Error).message}`);
  }
  const list = Array.isArray(doc) ? doc : (doc as { ops?: unknown } | null)?.ops;
  if (!Array.isArray(list))
    throw new DistkvError('INVALID_BODY', 'expected a JSON array of operations (or {"ops": [...]})');
  if (list.length > BATCH_MAX_OPS)
    throw new DistkvError('INVALID_BODY', `batch has ${list.length} operations; limit is ${BATCH_MAX_OPS}`);
  return list.map((raw: unknown, i): BatchOp => {
    try {
      return parseOp(raw, i, maxKey, maxValue);
    } catch (err) {
      return { op: 'invalid', error: toDistkvError(err).toWire() };
    }
  });
}

function parseOp(raw: unknown, i: number, maxKey: number, maxValue: number): BatchOp {
  if (typeof raw !== 'object' || raw === null)
    throw new DistkvError('INVALID_BODY', `ops[${i}]: expected an object`);
  const o = raw as { op?: unknown; key?: unknown; value?: unknown; value_base64?: unknown };
  if (typeof o.key !== 'string') throw new DistkvError('MISSING_KEY', `ops[${i}].key: expected a string`);
  checkKey(o.key, maxKey);
  if (o.op === 'delete' || o.op === 'del') return { op: 'delete', key: o.key };
  if (o.op !== 'set' && o.op !== 'put')
    throw new DistkvError(
      'INVALID_BODY',
      `ops[${i}].op: expected "set" or "delete", got ${JSON.stringify(o.op)}`,
    );
  let value: Buffer;
  if (typeof o.value === 'string') value = Buffer.from(o.value, 'utf8');
  else if (typeof o.value_base64 === 'string') value = Buffer.from(o.value_base64, 'base64');
  else throw new DistkvError('INVALID_BODY', `ops[${i}]: expected "value" (string) or "value_base64"`);
  if (value.length > maxValue)
    throw new DistkvError(
      'VALUE_TOO_LARGE',
      `ops[${i}]: value is ${value.length} bytes; limit is ${maxValue}`,
    );
  return { op: 'set', key: o.key, value };
}

function runBatch(ctx: HttpContext, ops: BatchOp[], localOnly: boolean): Promise<BatchResult[]> {
  return new Promise((resolve) => {
    const results: BatchResult[] = new Array<BatchResult>(ops.length);
    let pending = ops.length;
    const settle = (i: number, r: BatchResult): void => {
      results[i] = r;
      if (--pending === 0) resolve(results);
    };
    if (pending === 0) resolve(results);
    const remote = new Map<string, { index: number; op: BatchOp }[]>();
    ops.forEach((op, i) => {
      if (op.op === 'invalid') {
        settle(i, { ok: false, error: op.error });
        return;
      }
      const shard = ctx.shardMap.shardOf(op.key);
      const t = ctx.listener.writes[shard]!;
      if (!t.local) {
        if (localOnly) {
          settle(i, {
            ok: false,
            error: {
              code: 'WRONG_NODE',
              message: `key belongs to shard ${shard}, led by ${t.address}; send this operation there`,
            },
          });
        } else remote.set(t.address, [...(remote.get(t.address) ?? []), { index: i, op }]);
        return;
      }
      const handler: OpHandler = {
        onReply(status, _seq, value) {
          settle(
            i,
            status === ST_ERROR ? { ok: false, error: parseWireError(value).toWire() } : { ok: true },
          );
        },
      };
      ctx.pool.submit(
        t.worker,
        op.op === 'set' ? OP_PUT : OP_DELETE,
        t.store,
        op.key,
        op.op === 'set' ? op.value : undefined,
        handler,
      );
    });
    for (const [owner, part] of remote) {
      const wire = part.map(({ op }) =>
        op.op === 'set'
          ? { op: 'set', key: op.key, value_base64: op.value.toString('base64') }
          : op.op === 'delete'
            ? { op: 'delete', key: op.key }
            : {},
      );
      ctx.forwarder.batch(owner, wire).then(
        (answers) => {
          part.forEach(({ index }, k) => {
            settle(index, answers[k]!);
          });
        },
        (err: unknown) => {
          const shardOf = (key: string): number => ctx.shardMap.shardOf(key);
          for (const { index, op } of part) {
            const shard = op.op === 'invalid' ? -1 : shardOf(op.key);
            settle(index, {
              ok: false,
              error: {
                code: err instanceof DistkvError ? err.code : 'SHARD_UNREACHABLE',
                message: `shard ${shard} (owner ${owner}) ${err instanceof DistkvError ? 'refused' : 'did not answer'}: ${(err as Error).message}`,
              },
            });
          }
        },
      );
    }
  });
}
