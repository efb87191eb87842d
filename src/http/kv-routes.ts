/**
 * Single-key routes: REST `GET/PUT/DELETE /kv/{key}` and the seed's `/get` and `/set`.
 *
 * Each handler reads everything it needs from `req` synchronously, routes the key
 * (slot → shard → this listener's target), and either redirects (307) to the owner in another
 * process or submits one operation to the owning worker and registers `res.onAborted`.
 */
import type { Dispatcher } from 'undici';
import { DistkvError, toDistkvError } from '../errors.js';
import { MAP_HEADER } from '../routing/live-map.js';
import { describeLag, lagHeader, provablyWithin, replicaLag } from '../replication/lag.js';
import { slotOf } from '../routing/slot.js';
import type { Target } from '../server/node-plan.js';
import { OP_DELETE, OP_GET, OP_PUT, type OpCode } from '../worker/op-format.js';
import { contentLengthError, readBody } from './body.js';
import type { HttpContext } from './context.js';
import { type Route, secondsSince } from './http-metrics.js';
import {
  KeyRequest,
  type KeyKind,
  KIND_KV_DELETE,
  KIND_KV_GET,
  KIND_KV_PUT,
  KIND_SEED_GET,
  KIND_SEED_SET,
} from './key-request.js';
import { FORWARDED_HEADER, proxyToOwner } from './proxy.js';
import { sendRedirect } from './redirect.js';
import { checkKey, intParam, keyFromPath, parseQuery } from './request-parse.js';
import { queryOf, sendError, sendSeedText } from './respond.js';
import type { HttpRequest, HttpResponse, TemplatedApp } from './uws.js';

const KV_PREFIX = '/kv/'.length;

/** refuseIfNotServing answers 503 while starting or draining; returns true when it did. */
export function refuseIfNotServing(
  res: HttpResponse,
  ctx: HttpContext,
  route: Route,
  method: string,
  start: number,
): boolean {
  const phase = ctx.state.phase;
  if (phase === 'serving') return false;
  const err =
    phase === 'draining'
      ? new DistkvError('DRAINING', 'node is shutting down; retry on another node or after restart')
      : new DistkvError('UNAVAILABLE', 'node is starting; its stores are not open yet');
  sendError(res, err);
  ctx.metrics.observeRequest(route, method, err.status, ctx.listener.address, err.code, secondsSince(start));
  return true;
}

/**
 * lagOf returns X-Distkv-Lag for a read served by a replica (seqs behind its leader, or its state and
 * the time since its last contact when the lag is unknown), else undefined. With `maxLagMs` it
 * throws REPLICA_STALE unless the replica proves it held all its leader had `maxLagMs` ago
 * (src/replication/lag.ts).
 */
function lagOf(
  ctx: HttpContext,
  t: Target & { local: true },
  maxLagMs: number | undefined,
): string | undefined {
  if (t.role !== 'replica') return undefined;
  const liveLeaderSeq = t.leaderStore === undefined ? undefined : ctx.pool.lastSeq(t.leaderStore);
  const lag = replicaLag(ctx.pool.positions, t.store, liveLeaderSeq, ctx.config.replication.pull_wait_ms);
  if (maxLagMs !== undefined && !provablyWithin(lag, maxLagMs))
    throw new DistkvError(
      'REPLICA_STALE',
      `this replica cannot prove it is within max_lag_ms=${maxLagMs} of its leader: ${describeLag(lag)}; read from the leader`,
    );
  return lagHeader(lag);
}

/** MAX_LAG_LIMIT_MS bounds `max_lag_ms` (one day). */
const MAX_LAG_LIMIT_MS = 86400000;

/** maxLagOf reads `max_lag_ms` of a read (undefined when absent: any lag is accepted). */
function maxLagOf(query: string): number | undefined {
  if (!query.includes('max_lag_ms=')) return undefined;
  const n = intParam(parseQuery(query).params, 'max_lag_ms', -1, 0, MAX_LAG_LIMIT_MS);
  return n === -1 ? undefined : n;
}

/** DEFAULT_W_TIMEOUT_MS is how long a `w=N` write waits for acks when no timeout_ms is given. */
export const DEFAULT_W_TIMEOUT_MS = 5000;

/** writeConcern reads `w` (0..the shard's replica count) and `timeout_ms` (1..600000) of a PUT or DELETE. */
function writeConcern(ctx: HttpContext, query: string, shard: number): { w: number; timeoutMs: number } {
  if (!query.includes('w=') && !query.includes('timeout_ms=')) return NO_CONCERN;
  const { params } = parseQuery(query);
  const replicas = ctx.shardMap.shard(shard).replicas.length;
  const w = intParam(params, 'w', 0, 0, replicas);
  return { w, timeoutMs: intParam(params, 'timeout_ms', DEFAULT_W_TIMEOUT_MS, 1, 600000) };
}

const NO_CONCERN = { w: 0, timeoutMs: 0 };

/** DispatchOptions are a write's concern or a read's freshness bound. */
interface DispatchOptions {
  concern?: { w: number; timeoutMs: number };
  maxLagMs?: number | undefined;
}

/**
 * dispatch routes one key operation: a redirect for a remote owner, else a KeyRequest submitted to
 * the owning worker. `value` must stay valid only for the duration of the call.
 */
function dispatch(
  res: HttpResponse,
  ctx: HttpContext,
  kind: KeyKind,
  op: OpCode,
  key: string,
  shard: number,
  value: Uint8Array | string | undefined,
  start: number,
  opts: DispatchOptions = {},
): KeyRequest {
  const listener = ctx.listener;
  const target = op === OP_GET ? listener.reads[shard]! : listener.writes[shard]!;
  if (!target.local) throw new Error(`dispatch: shard ${shard} is not local`);
  const lag = op === OP_GET ? lagOf(ctx, target, opts.maxLagMs) : undefined;
  const concern = opts.concern ?? NO_CONCERN;
  const request = new KeyRequest(res, ctx, kind, shard, start);
  request.lag = lag;
  ctx.pool.submit(target.worker, op, target.store, key, value, request, concern.w, concern.timeoutMs);
  return request;
}

/** Placement is where a key's request goes: this process (`owner` undefined) or, with `--proxy`, `owner`. */
interface Placement {
  shard: number;
  owner: string | undefined;
}

/**
 * placeKey routes a key once (slot → shard → this listener's target). It returns where to serve it:
 * here, or forwarded to its owner when the node proxies (`--proxy`) and the request was not itself
 * forwarded by another node. Otherwise it answers the 307 itself and returns undefined.
 */
function placeKey(
  res: HttpResponse,
  req: HttpRequest,
  ctx: HttpContext,
  url: string,
  query: string,
  key: string,
  write: boolean,
  start: number,
): Placement | undefined {
  const slot = slotOf(key);
  const shard = ctx.shardMap.shardOfSlot(slot);
  const target = write ? ctx.listener.writes[shard]! : ctx.listener.reads[shard]!;
  if (target.local && write && ctx.liveMap.writesFenced(shard)) {
    // Held, not failed: the write was not executed, and the client may send it again.
    const e = new DistkvError('SWITCHING_LEADER', `shard ${shard}'s leader is being switched; retry shortly`);
    sendError(res, e, { headers: { 'Retry-After': '1', [MAP_HEADER]: String(ctx.liveMap.current.version) } });
    ctx.metrics.observeRequest(
      'other',
      req.getMethod().toUpperCase(),
      503,
      ctx.listener.address,
      e.code,
      secondsSince(start),
    );
    return undefined;
  }
  if (target.local) return { shard, owner: undefined };
  if (ctx.proxy && req.getHeader(FORWARDED_HEADER) === '') return { shard, owner: target.address };
  sendRedirect(
    res,
    ctx.scheme,
    url,
    query,
    { shard, slot, owner: target.address },
    ctx.shardMap.hash,
    ctx.liveMap.current.version,
  );
  ctx.metrics.observeRequest(
    'redirect',
    req.getMethod().toUpperCase(),
    307,
    ctx.listener.address,
    '',
    secondsSince(start),
  );
  return undefined;
}

/** proxyNow forwards a body-less request to the owner of its key (see proxy.ts). */
function proxyNow(
  res: HttpResponse,
  ctx: HttpContext,
  shard: number,
  owner: string,
  method: Dispatcher.HttpMethod,
  path: string,
  route: Route,
  start: number,
): void {
  const state = { aborted: false };
  res.onAborted(() => {
    state.aborted = true;
  });
  proxyToOwner(res, ctx, state, method, owner, shard, path, undefined, route, start);
}

/** pathOf rebuilds a request's path and query. */
function pathOf(url: string, query: string): string {
  return query === '' ? url : `${url}?${query}`;
}

/** registerKvRoutes adds the REST single-key routes to `app`. */
export function registerKvRoutes(app: TemplatedApp, ctx: HttpContext): void {
  const maxKey = ctx.config.server.max_key_bytes;
  const maxValue = ctx.config.server.max_value_bytes;

  const simple = (kind: KeyKind, op: OpCode, route: Route) => (res: HttpResponse, req: HttpRequest) => {
    const start = performance.now();
    const method = op === OP_GET ? 'GET' : 'DELETE';
    if (refuseIfNotServing(res, ctx, route, method, start)) return;
    const url = req.getUrl();
    let key: string;
    try {
      key = keyFromPath(url, KV_PREFIX, maxKey);
    } catch (err) {
      const e = toDistkvError(err);
      sendError(res, e);
      ctx.metrics.observeRequest(route, method, e.status, ctx.listener.address, e.code, secondsSince(start));
      return;
    }
    const query = queryOf(req);
    const at = placeKey(res, req, ctx, url, query, key, op !== OP_GET, start);
    if (at === undefined) return;
    if (at.owner !== undefined) {
      proxyNow(res, ctx, at.shard, at.owner, method, pathOf(url, query), route, start);
      return;
    }
    let request: KeyRequest;
    try {
      const opts: DispatchOptions =
        op === OP_GET ? { maxLagMs: maxLagOf(query) } : { concern: writeConcern(ctx, query, at.shard) };
      request = dispatch(res, ctx, kind, op, key, at.shard, undefined, start, opts);
    } catch (err) {
      const e = toDistkvError(err);
      sendError(res, e);
      ctx.metrics.observeRequest(route, method, e.status, ctx.listener.address, e.code, secondsSince(start));
      return;
    }
    res.onAborted(() => {
      request.abort();
    });
  };

  app.get('/kv/*', simple(KIND_KV_GET, OP_GET, 'kv_get'));
  app.del('/kv/*', simple(KIND_KV_DELETE, OP_DELETE, 'kv_delete'));

  app.put('/kv/*', (res, req) => {
    const start = performance.now();
    if (refuseIfNotServing(res, ctx, 'kv_put', 'PUT', start)) return;
    const url = req.getUrl();
    let key: string;
    try {
      key = keyFromPath(url, KV_PREFIX, maxKey);
      const tooBig = contentLengthError(req, maxValue, 'value');
      if (tooBig) {
        sendError(res, tooBig, { close: true });
        ctx.metrics.observeRequest(
          'kv_put',
          'PUT',
          tooBig.status,
          ctx.listener.address,
          tooBig.code,
          secondsSince(start),
        );
        return;
      }
    } catch (err) {
      const e = toDistkvError(err);
      sendError(res, e);
      ctx.metrics.observeRequest(
        'kv_put',
        'PUT',
        e.status,
        ctx.listener.address,
        e.code,
        secondsSince(start),
      );
      return;
    }
    const query = queryOf(req);
    const at = placeKey(res, req, ctx, url, query, key, true, start);
    if (at === undefined) return;
    const owner = at.owner;
    let concern = NO_CONCERN;
    if (owner === undefined) {
      try {
        concern = writeConcern(ctx, query, at.shard);
      } catch (err) {
        const e = toDistkvError(err);
        sendError(res, e, { close: true });
        ctx.metrics.observeRequest(
          'kv_put',
          'PUT',
          e.status,
          ctx.listener.address,
          e.code,
          secondsSince(start),
        );
        return;
      }
    }
    const state = { aborted: false, request: undefined as KeyRequest | undefined };
    res.onAborted(() => {
      state.aborted = true;
      state.request?.abort();
    });
    readBody(
      res,
      state,
      maxValue,
      'value',
      (body) => {
        if (owner === undefined)
          state.request = dispatch(res, ctx, KIND_KV_PUT, OP_PUT, key, at.shard, body, start, { concern });
        // `body` may be a view of uWS's chunk, valid only during this call: the forward needs a copy.
        else
          proxyToOwner(
            res,
            ctx,
            state,
            'PUT',
            owner,
            at.shard,
            pathOf(url, query),
            Buffer.from(body),
            'kv_put',
            start,
          );
      },
      () => {
        ctx.metrics.observeRequest(
          'kv_put',
          'PUT',
          413,
          ctx.listener.address,
          'VALUE_TOO_LARGE',
          secondsSince(start),
        );
      },
    );
  });
}

/** registerSeedKeyRoutes adds the seed's `/get` and `/set` (any method, as Go's HandleFunc). */
export function registerSeedKeyRoutes(app: TemplatedApp, ctx: HttpContext): void {
  const maxKey = ctx.config.server.max_key_bytes;
  const maxValue = ctx.config.server.max_value_bytes;

  app.any('/get', (res, req) => {
    const start = performance.now();
    const method = req.getMethod().toUpperCase();
    if (refuseIfNotServing(res, ctx, 'seed_get', method, start)) return;
    const query = queryOf(req);
    const key = seedParam(query, 'key');
    if (key === '') {
      sendSeedText(res, 400, 'Missing key');
      ctx.metrics.observeRequest(
        'seed_get',
        method,
        400,
        ctx.listener.address,
        'MISSING_KEY',
        secondsSince(start),
      );
      return;
    }
    if (!seedKeyOk(res, ctx, key, maxKey, 'seed_get', method, start)) return;
    const at = placeKey(res, req, ctx, '/get', query, key, false, start);
    if (at === undefined) return;
    if (at.owner !== undefined) {
      proxyNow(res, ctx, at.shard, at.owner, 'GET', pathOf('/get', query), 'seed_get', start);
      return;
    }
    let request: KeyRequest;
    try {
      request = dispatch(res, ctx, KIND_SEED_GET, OP_GET, key, at.shard, undefined, start, {
        maxLagMs: maxLagOf(query),
      });
    } catch (err) {
      const e = toDistkvError(err);
      sendSeedText(res, e.status, `Error: ${e.message}`);
      ctx.metrics.observeRequest(
        'seed_get',
        'GET',
        e.status,
        ctx.listener.address,
        e.code,
        secondsSince(start),
      );
      return;
    }
    res.onAborted(() => {
      request.abort();
    });
  });

  app.any('/set', (res, req) => {
    const start = performance.now();
    const method = req.getMethod().toUpperCase();
    if (refuseIfNotServing(res, ctx, 'seed_set', method, start)) return;
    const query = queryOf(req);
    const { params } = parseQuery(query);
    const key = params.get('key') ?? '';
    const value = params.get('value') ?? '';
    if (key === '' || value === '') {
      sendSeedText(res, 400, 'Missing key or value');
      ctx.metrics.observeRequest(
        'seed_set',
        method,
        400,
        ctx.listener.address,
        key === '' ? 'MISSING_KEY' : 'INVALID_ARGUMENT',
        secondsSince(start),
      );
      return;
    }
    if (!seedKeyOk(res, ctx, key, maxKey, 'seed_set', method, start)) return;
    if (Buffer.byteLength(value) > maxValue) {
      sendSeedText(res, 413, `Value too large: ${Buffer.byteLength(value)} bytes; limit is ${maxValue}`);
      ctx.metrics.observeRequest(
        'seed_set',
        method,
        413,
        ctx.listener.address,
        'VALUE_TOO_LARGE',
        secondsSince(start),
      );
      return;
    }
    const at = placeKey(res, req, ctx, '/set', query, key, true, start);
    if (at === undefined) return;
    if (at.owner !== undefined) {
      proxyNow(res, ctx, at.shard, at.owner, 'GET', pathOf('/set', query), 'seed_set', start);
      return;
    }
    const request = dispatch(res, ctx, KIND_SEED_SET, OP_PUT, key, at.shard, value, start);
    res.onAborted(() => {
      request.abort();
    });
  });
}

function seedKeyOk(
  res: HttpResponse,
  ctx: HttpContext,
  key: string,
  maxKey: number,
  route: Route,
  method: string,
  start: number,
): boolean {
  try {
    checkKey(key, maxKey);
    return true;
  } catch (err) {
    const e = toDistkvError(err);
    sendSeedText(res, 400, `Invalid key: ${e.message}`);
    ctx.metrics.observeRequest(route, method, 400, ctx.listener.address, e.code, secondsSince(start));
    return false;
  }
}

/** seedParam reads one form parameter as Go's r.Form.Get does ("" when absent or malformed). */
function seedParam(query: string, name: string): string {
  // Fast path for the common "key=<ascii>" query with a single parameter.
  if (query.startsWith(`${name}=`) && !/[&%+]/.test(query)) {
    const v = query.slice(name.length + 1);
    return v.includes('\uFFFD') ? '' : v;
  }
  try {
    return parseQuery(query).params.get(name) ?? '';
  } catch {
    return '';
  }
}
