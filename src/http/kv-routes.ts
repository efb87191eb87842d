/**
 * Single-key routes: REST `GET/PUT/DELETE /kv/{key}` and the seed's `/get` and `/set`.
 *
 * Each handler reads what it needs from `req` (its query parameters, conditions and body), places
 * the key (key-dispatch.ts: 307 to the owner in another process, a forward to it with `--proxy`, a
 * 503 refusal), and submits one operation to the owning worker, which answers through a
 * KeyRequest. The REST routes' common form is served by their fast handlers (kv-fast.ts) through
 * the same dispatch.
 */
import { DistkvError, toDistkvError } from '../errors.js';
import {
  encodeExt,
  OP_DELETE,
  OP_DELETE_EXT,
  OP_GET,
  OP_PUT,
  OP_PUT_EXT,
  type OpCode,
  type WriteExt,
} from '../worker/op-format.js';
import { contentLengthError, readBody } from './body.js';
import type { HttpContext } from './context.js';
import type { Route } from './http-metrics.js';
import type { HttpResponse } from './http1-exchange.js';
import { dispatch, NO_CONCERN, placeKey } from './key-dispatch.js';
import { kvFastHandlers } from './kv-fast.js';
import {
  type KeyKind,
  KIND_KV_DELETE,
  KIND_KV_GET,
  KIND_KV_PUT,
  KIND_SEED_GET,
  KIND_SEED_SET,
} from './key-request.js';
import { forwardedConditions, proxyToOwner, relayWaitMs } from './proxy.js';
import { seedFormValue } from './seed-form.js';
import { readConditionsOf } from './read-conditions.js';
import { portableTarget } from './target-path.js';
import { checkKey, intParam, keyFromPath, parseQuery, strictQuery } from './request-parse.js';
import { sendError, sendSeedText } from './respond.js';
import { route } from './route.js';
import type { Router } from './router.js';
import { conditionSent, DEFAULT_W_TIMEOUT_MS, MAX_W_TIMEOUT_MS, writeExtOf } from './write-conditions.js';

const KV_PREFIX = '/kv/'.length;

/** MAX_LAG_LIMIT_MS bounds `max_lag_ms` (one day). */
const MAX_LAG_LIMIT_MS = 86400000;

/** maxLagOf reads `max_lag_ms` of a read (undefined when absent: any lag is accepted). */
function maxLagOf(params: ReadonlyMap<string, string>): number | undefined {
  const n = intParam(params, 'max_lag_ms', -1, 0, MAX_LAG_LIMIT_MS);
  return n === -1 ? undefined : n;
}

/**
 * The query parameters each REST key route takes (docs/api.md): anything else, or one given
 * twice, is a 400 naming it (request-parse.ts, strictQuery). They are checked where the key is
 * served: a redirect or a forward passes the query on as it came.
 */
const GET_PARAMS = ['max_lag_ms', 'w', 'timeout_ms'] as const;
const PUT_PARAMS = ['w', 'timeout_ms', 'ttl_ms', 'expires_at_ms'] as const;
const DELETE_PARAMS = ['w', 'timeout_ms'] as const;

/**
 * writeConcern reads `w` (0..the shard's replica count) and `timeout_ms` (1..600000) of a PUT or
 * DELETE, or of a GET: its read concern, the replicas that must hold what it shows. `timeout_ms`
 * bounds only the wait for `w`: given without `w` it is refused (INVALID_ARGUMENT), as the client
 * library and the CLI refuse it, rather than accepted for a wait that does not happen.
 */
function writeConcern(
  ctx: HttpContext,
  params: ReadonlyMap<string, string>,
  shard: number,
): { w: number; timeoutMs: number } {
  if (params.size === 0) return NO_CONCERN;
  const s = ctx.shardMap.shard(shard);
  const w = wOf(params, s.name, s.replicas.length);
  const timeoutMs = intParam(params, 'timeout_ms', DEFAULT_W_TIMEOUT_MS, 1, MAX_W_TIMEOUT_MS);
  if (params.has('timeout_ms') && !params.has('w'))
    throw new DistkvError(
      'INVALID_ARGUMENT',
      `timeout_ms bounds the wait for w (replicas holding the write, or what a read saw) and is given without w: ${
        s.replicas.length === 0
          ? `drop timeout_ms (the key's shard, ${s.name}, has no replicas to wait for)`
          : `add w=N (N from 1 to ${s.replicas.length}, the replicas of the key's shard ${s.name}), or drop timeout_ms`
      }`,
    );
  return { w, timeoutMs };
}

/**
 * wOf reads `w`: 0..`replicas`, the replicas of shard `name`. A shard without replicas takes only
 * 0, and the refusal says why: "w must be an integer in 0..0" read as a wrong bound.
 */
function wOf(params: ReadonlyMap<string, string>, name: string, replicas: number): number {
  const text = params.get('w');
  if (replicas > 0 || text === undefined || /^0{1,16}$/.test(text))
    return intParam(params, 'w', 0, 0, replicas);
  const none = `the key's shard (${name}) has no replicas to wait for`;
  throw new DistkvError(
    'INVALID_ARGUMENT',
    text === '' ? `w is empty; expected 0: ${none}` : `w must be 0, got "${text}": ${none}`,
  );
}

/**
 * registerKvRoutes adds the REST single-key routes, with their fast handlers (kv-fast.ts) unless
 * `fastPath` is false (a test compares the answers with and without them).
 */
export function registerKvRoutes(app: Router, ctx: HttpContext, fastPath = true): void {
  const maxKey = ctx.config.server.max_key_bytes;
  const maxValue = ctx.config.server.max_value_bytes;

  const simple = (kind: KeyKind, op: OpCode, name: Route) =>
    route(ctx, name, (res, req) => {
      const url = req.getUrl();
      const key = keyFromPath(url, KV_PREFIX, maxKey);
      const query = req.getQuery();
      // A GET with `w` > 0 (read loosely, as relayed: the node serving it checks it) reads the leader.
      const waitMs = relayWaitMs(query);
      const at = placeKey(res, req, ctx, url, query, key, op !== OP_GET, op === OP_GET && waitMs > 0);
      if (at === undefined) return;
      if (at.owner !== undefined) {
        const method = op === OP_GET ? 'GET' : 'DELETE';
        // A read's conditions go on too: the owner evaluates them against what it reads.
        const headers = forwardedConditions(req);
        proxyToOwner(
          res,
          ctx,
          method,
          at.owner,
          at.shard,
          portableTarget(url, query),
          undefined,
          headers,
          waitMs,
        );
        return;
      }
      const params = strictQuery(query, op === OP_GET ? GET_PARAMS : DELETE_PARAMS);
      if (op === OP_GET) {
        const concern = writeConcern(ctx, params, at.shard);
        const conds = readConditionsOf(req);
        dispatch(res, ctx, kind, op, key, at.shard, undefined, concern, maxLagOf(params), conds);
        return;
      }
      const ext = writeExtOf(req, ctx, at.shard, params, false);
      const concern = writeConcern(ctx, params, at.shard);
      if (ext === undefined) dispatch(res, ctx, kind, op, key, at.shard, undefined, concern);
      else dispatch(res, ctx, kind, OP_DELETE_EXT, key, at.shard, encodeExt(ext), concern);
    });

  const fast = fastPath
    ? kvFastHandlers(ctx, (res, kind, op, key, shard, value) => {
        dispatch(res, ctx, kind, op, key, shard, value);
      })
    : { get: undefined, put: undefined, del: undefined };
  app.get('/kv/*', simple(KIND_KV_GET, OP_GET, 'kv_get'), fast.get);
  app.del('/kv/*', simple(KIND_KV_DELETE, OP_DELETE, 'kv_delete'), fast.del);

  app.put(
    '/kv/*',
    route(ctx, 'kv_put', (res, req) => {
      const url = req.getUrl();
      const key = keyFromPath(url, KV_PREFIX, maxKey);
      // Refused from Content-Length before routing: no redirect invites a body that is too large.
      const tooBig = contentLengthError(req, maxValue, 'value');
      if (tooBig !== undefined) {
        sendError(res, tooBig, { close: true });
        return;
      }
      const query = req.getQuery();
      const at = placeKey(res, req, ctx, url, query, key, true);
      if (at === undefined) return;
      const owner = at.owner;
      let concern = NO_CONCERN;
      let ext: WriteExt | undefined;
      if (owner === undefined) {
        const params = strictQuery(query, PUT_PARAMS);
        concern = writeConcern(ctx, params, at.shard);
        ext = writeExtOf(req, ctx, at.shard, params, true);
      }
      const headers = owner === undefined ? {} : forwardedConditions(req);
      readBody(res, req, maxValue, 'value', (body) => {
        if (owner !== undefined)
          // `body` may be a view of the connection's input, valid only during this call: the forward needs a copy.
          proxyToOwner(
            res,
            ctx,
            'PUT',
            owner,
            at.shard,
            portableTarget(url, query),
            Buffer.from(body),
            headers,
            relayWaitMs(query),
          );
        else if (ext === undefined) dispatch(res, ctx, KIND_KV_PUT, OP_PUT, key, at.shard, body, concern);
        else dispatch(res, ctx, KIND_KV_PUT, OP_PUT_EXT, key, at.shard, encodeExt(ext, body), concern);
      });
    }),
    fast.put,
  );
}

/** registerSeedKeyRoutes adds the seed's `/get` and `/set` (any method, as Go's HandleFunc). */
export function registerSeedKeyRoutes(app: Router, ctx: HttpContext): void {
  const maxKey = ctx.config.server.max_key_bytes;
  const maxValue = ctx.config.server.max_value_bytes;

  app.any(
    '/get',
    route(ctx, 'seed_get', (res, req) => {
      const query = req.getQuery();
      const key = seedParam(query, 'key');
      if (key.length === 0) {
        sendSeedText(res, 400, 'Missing key', 'MISSING_KEY');
        return;
      }
      if (!seedKeyOk(res, key, maxKey)) return;
      const at = placeKey(res, req, ctx, '/get', query, key, false);
      if (at === undefined) return;
      if (at.owner !== undefined)
        proxyToOwner(res, ctx, 'GET', at.owner, at.shard, portableTarget('/get', query), undefined);
      else {
        try {
          const maxLag = query.includes('max_lag_ms=') ? maxLagOf(parseQuery(query).params) : undefined;
          dispatch(res, ctx, KIND_SEED_GET, OP_GET, key, at.shard, undefined, NO_CONCERN, maxLag);
        } catch (err) {
          const e = toDistkvError(err);
          sendSeedText(res, e.status, `Error: ${e.message}`, e.code);
        }
      }
    }),
  );

  app.any(
    '/set',
    route(ctx, 'seed_set', (res, req) => {
      const query = req.getQuery();
      const key = seedFormValue(query, 'key');
      const value = seedFormValue(query, 'value');
      if (key.length === 0 || value.length === 0) {
        sendSeedText(res, 400, 'Missing key or value', key.length === 0 ? 'MISSING_KEY' : 'INVALID_ARGUMENT');
        return;
      }
      if (!seedKeyOk(res, key, maxKey)) return;
      if (Buffer.byteLength(value) > maxValue) {
        sendSeedText(
          res,
          413,
          `Value too large: ${Buffer.byteLength(value)} bytes; limit is ${maxValue}`,
          'VALUE_TOO_LARGE',
        );
        return;
      }
      // The seed's /set takes no condition: applied unconditionally, a write its client sent as a
      // compare-and-set overwrote whatever the key held. Refused, in Go's http.Error format.
      const header = conditionSent(req);
      if (header !== undefined) {
        sendSeedText(
          res,
          400,
          `${header} is not supported on /set, and nothing was written: send a conditional write as PUT /kv/{key} with ${header}`,
          'INVALID_ARGUMENT',
        );
        return;
      }
      const at = placeKey(res, req, ctx, '/set', query, key, true);
      if (at === undefined) return;
      if (at.owner !== undefined)
        proxyToOwner(res, ctx, 'GET', at.owner, at.shard, portableTarget('/set', query), undefined);
      else dispatch(res, ctx, KIND_SEED_SET, OP_PUT, key, at.shard, value);
    }),
    { write: true },
  );
}

function seedKeyOk(res: HttpResponse, key: string | Buffer, maxKey: number): boolean {
  try {
    if (typeof key === 'string') checkKey(key, maxKey);
    else if (key.length > maxKey)
      throw new DistkvError('INVALID_KEY', `key is ${key.length} bytes; limit is ${maxKey}`);
    return true;
  } catch (err) {
    const e = toDistkvError(err);
    sendSeedText(res, 400, `Invalid key: ${e.message}`, e.code);
    return false;
  }
}

/** seedParam reads one form parameter as Go's r.Form.Get does ("" when absent or dropped; src/http/seed-form.ts). */
function seedParam(query: string, name: string): string | Buffer {
  // Fast path for the common "key=<ascii>" query with a single parameter.
  if (query.startsWith(`${name}=`) && !/[&%+;]/.test(query)) {
    const v = query.slice(name.length + 1);
    return v.includes('\uFFFD') ? '' : v;
  }
  return seedFormValue(query, name);
}
