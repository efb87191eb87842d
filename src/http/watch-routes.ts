/**
 * `GET /watch?prefix=P&from=CURSOR&values=0|1&shards=I,J&max_buffer_bytes=N` (docs/watch.md):
 * a stream of the changes of the keys under P (its UTF-8 bytes, or any bytes as `prefix_base64`),
 * as Server-Sent Events, as the binary stream when the request's Accept names it
 * (watch-binary-format.ts; version 2 when it asks for `version=2`), or over a WebSocket when the
 * request asks to upgrade (same URL, same events).
 *
 * Shards: the prefix's shards (one when the prefix holds a whole `{hash tag}`, else all), or those
 * named by `shards`. This node serves those it holds a store of (the replica at a replica's
 * address, as reads are routed); the others are named in `hello` (`elsewhere`: shard → node). When
 * it holds none of them, it answers 307 to the node of the first. A replica's lag is sent as
 * `X-Distkv-Lag` and in every `progress` event.
 */
import { leaselessReadMessage } from '../server/map-keeper.js';
import { DistkvError } from '../errors.js';
import { prefixSlot } from '../routing/slot.js';
import { isCanonicalBase64 } from './batch-parse.js';
import type { HttpContext } from './context.js';
import type { HttpRequest, HttpResponse } from './http1-exchange.js';
import { sendDisputed } from './key-dispatch.js';
import { sendRedirect } from './redirect.js';
import { intParam, strictQuery, uintOf } from './request-parse.js';
import { sendError } from './respond.js';
import { route } from './route.js';
import type { Router } from './router.js';
import { acceptKey, isValidKey } from './websocket-format.js';
import { SseOutput } from '../watch/sse-output.js';
import { BINARY_MEDIA_TYPE, KEEPALIVE_MS, VERSION_1, VERSION_2 } from '../watch/watch-binary-format.js';
import { type FromSpec, parseFrom, startOf, type Start } from '../watch/watch-cursor.js';
import { WatchHub } from '../watch/watch-hub.js';
import { type ShardSource, Watcher } from '../watch/watcher.js';
import { binaryVersion, type StreamFormat } from '../watch/watch-event.js';
import { WsSession } from '../watch/ws-session.js';

/** DEFAULT_MAX_BUFFER is how many bytes may wait for a slow watcher before it is told to resume. */
export const DEFAULT_MAX_BUFFER = 1024 * 1024;
const MIN_MAX_BUFFER = 1024;
const MAX_MAX_BUFFER = 64 * 1024 * 1024;
/**
 * PEER_ENDED_KEEPALIVE_MS is the keep-alive's period once the client ended its side: it may only
 * have half-closed (it still reads), or be gone, which only a write answered by a reset and the
 * write after it failing tell. At 15 s that took up to 30 s on a quiet prefix, the stream counted
 * open all along.
 */
const PEER_ENDED_KEEPALIVE_MS = 1000;

/** WatchPlan is a parsed watch request. */
interface WatchPlan {
  prefix: Buffer;
  values: boolean;
  maxBuffer: number;
  sources: ShardSource[];
  starts: Map<number, Start>;
  elsewhere: Record<string, string>;
}

/** prefixShards lists the shards keys under `prefix` can live on. */
export function prefixShards(ctx: HttpContext, prefix: Buffer): number[] {
  // A prefix holding a whole non-empty hash tag fixes the tag, so the slot, of every key under it.
  const slot = prefixSlot(prefix);
  if (slot !== undefined) return [ctx.shardMap.shardOfSlot(slot)];
  return ctx.shardMap.shards.map((s) => s.idx);
}

/**
 * prefixParam reads the prefix: `prefix` (text, matched as its UTF-8) or `prefix_base64` (any
 * bytes, for keys that are not UTF-8), not both; at most `maxKey` bytes.
 */
function prefixParam(params: ReadonlyMap<string, string>, maxKey: number): Buffer {
  const text = params.get('prefix_base64');
  if (text !== undefined && params.has('prefix'))
    throw new DistkvError('INVALID_ARGUMENT', 'send prefix or prefix_base64, not both');
  if (text !== undefined && !isCanonicalBase64(text))
    throw new DistkvError(
      'INVALID_ARGUMENT',
      `prefix_base64 must be canonical base64 (padded), got "${text}"`,
    );
  const prefix =
    text === undefined ? Buffer.from(params.get('prefix') ?? '', 'utf8') : Buffer.from(text, 'base64');
  if (prefix.length > maxKey) throw new DistkvError('INVALID_KEY', `prefix is over ${maxKey} bytes`);
  return prefix;
}

function shardsParam(ctx: HttpContext, params: ReadonlyMap<string, string>, prefix: Buffer): number[] {
  const text = params.get('shards');
  // `shards=` (a script's unset variable) is refused as the scan refuses it, not read as "all".
  if (text === undefined) return prefixShards(ctx, prefix);
  const count = ctx.shardMap.shards.length;
  const out: number[] = [];
  for (const item of text.split(',')) {
    const n = uintOf(item);
    if (!(n < count))
      throw new DistkvError(
        'INVALID_ARGUMENT',
        `shards must list shard numbers 0..${count - 1}, got "${item}"`,
      );
    if (!out.includes(n)) out.push(n);
  }
  return out;
}

/**
 * fromParam reads where the watch starts: `from`, else SSE's `Last-Event-ID`, else now. An empty
 * `from=` (`from=$CURSOR` with CURSOR unset) is refused, as `distkv watch --from ""` is: read as
 * "now", it skipped every change since the cursor the caller meant to give. A bad Last-Event-ID
 * is refused naming the header, which the caller may not know it sent, and so is one sent twice.
 */
function fromParam(params: ReadonlyMap<string, string>, req: HttpRequest): FromSpec {
  const text = params.get('from');
  if (text === '')
    throw new DistkvError(
      'INVALID_ARGUMENT',
      'from is empty: give a cursor (SHARD:E.S items, E.S or now), or leave from out to start now',
    );
  if (text !== undefined) return parseFrom(text);
  // Sent twice, the first was taken: another start than the client may have meant, as `from`
  // twice or a condition header twice is refused.
  const ids = req.getHeaders('last-event-id');
  if (ids.length > 1)
    throw new DistkvError('INVALID_ARGUMENT', `send one Last-Event-ID header, got ${ids.length}`);
  try {
    return parseFrom(ids[0] ?? '');
  } catch (err) {
    if (!(err instanceof DistkvError)) throw err;
    throw new DistkvError('INVALID_ARGUMENT', `Last-Event-ID (read as from): ${err.message}`);
  }
}

function planOf(ctx: HttpContext, req: HttpRequest, params: ReadonlyMap<string, string>): WatchPlan {
  // A watch reads the stores' logs, and only the lsm engine keeps one (store-log.ts, logOf). Its
  // workers refused every read, which the feeds take for a store being rebuilt and try again: the
  // stream said hello and then nothing, for ever.
  const engine = ctx.config.storage.engine;
  if (engine !== 'lsm')
    throw new DistkvError(
      'BAD_REQUEST',
      `watch needs a store with a log; the ${engine} engine (storage.engine) keeps none: run the node with the lsm engine to watch`,
    );
  const prefix = prefixParam(params, ctx.config.server.max_key_bytes);
  const values = intParam(params, 'values', 1, 0, 1);
  const maxBuffer = intParam(params, 'max_buffer_bytes', DEFAULT_MAX_BUFFER, MIN_MAX_BUFFER, MAX_MAX_BUFFER);
  const from = fromParam(params, req);
  // A shard `from` names that the cluster does not have (a typo, another cluster's cursor) would
  // leave the shard meant starting from the rest of `from`, often now, without a word.
  const count = ctx.shardMap.shards.length;
  for (const shard of from.shards.keys())
    if (shard >= count)
      throw new DistkvError(
        'INVALID_ARGUMENT',
        `from names shard ${shard}, which this cluster does not have (shards 0..${count - 1})`,
      );
  const sources: ShardSource[] = [];
  const starts = new Map<number, Start>();
  const elsewhere: Record<string, string> = {};
  for (const shard of shardsParam(ctx, params, prefix)) {
    const t = ctx.listener.reads[shard]!;
    if (!t.local) {
      elsewhere[String(shard)] = t.address;
      continue;
    }
    // As reads (key-dispatch.ts): a leader here without its lease may have been replaced, and its log
    // would show none of the new leader's changes.
    if (ctx.liveMap.leaderWithoutLease(t.role, shard))
      throw new DistkvError('SWITCHING_LEADER', leaselessReadMessage(shard));
    // A leader that started behind its replica (behind-leaders.ts) would show a snapshot without its records.
    const behind = t.role === 'leader' ? ctx.liveMap.behindError(shard) : undefined;
    if (behind !== undefined) throw behind;
    sources.push({ shard, worker: t.worker, store: t.store, role: t.role, leaderStore: t.leaderStore });
    starts.set(shard, startOf(from, shard));
  }
  return { prefix, values: values === 1, maxBuffer, sources, starts, elsewhere };
}

/**
 * WATCH_PARAMS are the parameters of a watch (docs/watch.md), read strictly as the native API's
 * (docs/api.md, "Query parameters"): a misspelt `from` would otherwise start from now in silence.
 */
const WATCH_PARAMS = ['prefix', 'prefix_base64', 'from', 'values', 'shards', 'max_buffer_bytes'] as const;

/** registerWatchRoutes adds GET /watch. */
export function registerWatchRoutes(app: Router, ctx: HttpContext): void {
  app.get(
    '/watch',
    route(ctx, 'watch', (res, req) => {
      const query = req.getQuery();
      const plan = planOf(ctx, req, strictQuery(query, WATCH_PARAMS));
      // A watch reads whole stores: one of their slots that a peer's config gives another leader
      // could take writes this stream would never show (slot-gate.ts). Running streams: watch-hub.ts.
      const disputed = ctx.slotGate.shardsRefusal(
        'watch',
        ctx.shardMap,
        plan.sources.map((s) => s.shard),
        plan.prefix,
      );
      if (disputed !== undefined) {
        sendDisputed(res, disputed);
        return;
      }
      if (plan.sources.length === 0) {
        const [shard, owner] = Object.entries(plan.elsewhere)[0] ?? [];
        if (shard === undefined || owner === undefined)
          throw new DistkvError('INVALID_ARGUMENT', 'no shard to watch');
        res.route = 'redirect';
        sendRedirect(
          res,
          ctx.scheme,
          '/watch',
          query,
          { shard: Number(shard), slot: ctx.shardMap.shard(Number(shard)).slots.first, owner },
          ctx.shardMap.hash,
          ctx.liveMap.current.version,
        );
        return;
      }
      const hub = WatchHub.of(ctx);
      const lag = plan.sources.map((s) => hub.lag(s)).find((l) => l !== undefined);
      // HEAD: GET's head, and no stream. Starting one held the connection for ever (nothing is
      // written to a HEAD, so nothing ends it) and a request behind it was never answered.
      if (req.getMethod() === 'HEAD') streamHead(res, lag, streamFormat(req.getHeader('accept')));
      else if (req.getHeader('upgrade').toLowerCase() === 'websocket')
        serveWebSocket(res, req, hub, plan, lag);
      else serveStream(res, hub, plan, lag, streamFormat(req.getHeader('accept')));
    }),
  );
}

/**
 * streamFormat reads which stream an Accept header asks for: the binary stream
 * (watch-binary-format.ts) in the highest version it names that this server writes
 * (`application/vnd.distkv.watch` alone is version 1, `...; version=2` version 2), else SSE.
 */
export function streamFormat(accept: string): StreamFormat {
  let best = 0;
  for (const item of accept.split(',')) {
    const [type, ...params] = item.split(';');
    if (type!.trim().toLowerCase() !== BINARY_MEDIA_TYPE) continue;
    let version = VERSION_1;
    for (const p of params) {
      const [name, value] = p.split('=');
      if (name!.trim().toLowerCase() === 'version') version = Number(value?.trim());
    }
    if ((version === VERSION_1 || version === VERSION_2) && version > best) best = version;
  }
  return best === VERSION_2 ? 'bin2' : best === VERSION_1 ? 'bin1' : 'sse';
}

/** streamHeaders writes the headers of a stream of `format`. */
function streamHeaders(res: HttpResponse, lag: string | undefined, format: StreamFormat): void {
  const version = binaryVersion(format);
  res
    .writeHeader(
      'Content-Type',
      version === undefined ? 'text/event-stream' : `${BINARY_MEDIA_TYPE}; version=${version}`,
    )
    .writeHeader('Cache-Control', 'no-cache')
    .writeHeader('X-Accel-Buffering', 'no');
  if (lag !== undefined) res.writeHeader('X-Distkv-Lag', lag);
}

/** streamHead answers a HEAD with the head a GET gets (chunked), and ends it. */
function streamHead(res: HttpResponse, lag: string | undefined, format: StreamFormat): void {
  streamHeaders(res, lag, format);
  res.write(new Uint8Array(0));
  res.end();
}

/** serveStream answers with a chunked stream: Server-Sent Events or the binary stream. */
function serveStream(
  res: HttpResponse,
  hub: WatchHub,
  plan: WatchPlan,
  lag: string | undefined,
  format: StreamFormat,
): void {
  streamHeaders(res, lag, format);
  // The stream ends by an abort (the client left, the node stopped) or by its last event (resume):
  // either way its keep-alive and its place in the hub go with it.
  let done = false;
  const ended = (): void => {
    done = true;
    clearInterval(keepAlive);
    watcher.close();
    hub.remove(watcher);
  };
  const out = new SseOutput(res, format, ended);
  const watcher = new Watcher(plan.sources, hub, out, plan);
  const beat = (): void => {
    out.keepAlive();
  };
  // `ended` runs on an abort too: the output registers it (sse-output.ts).
  let keepAlive = setInterval(beat, KEEPALIVE_MS);
  out.begin();
  hub.add(watcher);
  watcher.start(plan.starts, plan.elsewhere);
  // The client sent FIN: probe at once and every PEER_ENDED_KEEPALIVE_MS, so a client that closed
  // is noticed within about that, one that half-closed still gets its events. (An ended or
  // aborted response is not told; registered last, since it runs at once when the FIN came
  // already, and its probe may end the stream: no interval is left behind an ended one.)
  res.onPeerEnded(() => {
    clearInterval(keepAlive);
    beat();
    if (!done) keepAlive = setInterval(beat, PEER_ENDED_KEEPALIVE_MS);
  });
}

function serveWebSocket(
  res: HttpResponse,
  req: HttpRequest,
  hub: WatchHub,
  plan: WatchPlan,
  lag: string | undefined,
): void {
  const key = req.getHeader('sec-websocket-key');
  if (!/\bupgrade\b/i.test(req.getHeader('connection')) || !isValidKey(key))
    throw new DistkvError(
      'BAD_REQUEST',
      'a WebSocket upgrade needs Connection: Upgrade and a valid Sec-WebSocket-Key',
    );
  // The connection becomes the WebSocket's at once: a body would be read as its first frames.
  // It was refused as "must be the only request in flight", which named the wrong mistake.
  if (req.hasBody)
    throw new DistkvError(
      'BAD_REQUEST',
      'a WebSocket upgrade request has no body: send it without Content-Length or Transfer-Encoding',
    );
  if (req.getHeader('sec-websocket-version') !== '13') {
    sendError(res, new DistkvError('BAD_REQUEST', 'only WebSocket version 13 is supported'), {
      headers: { 'Sec-WebSocket-Version': '13' },
    });
    return;
  }
  const head =
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n${lag === undefined ? '' : `X-Distkv-Lag: ${lag}\r\n`}\r\n`;
  const taken = res.upgrade(head);
  if (taken === undefined)
    throw new DistkvError(
      'BAD_REQUEST',
      'a WebSocket upgrade must be the only request in flight on its connection',
    );
  let watcher: Watcher | undefined = undefined;
  const session = new WsSession(
    taken.socket,
    taken.head,
    () => {
      if (watcher === undefined) return;
      watcher.close();
      hub.remove(watcher);
    },
    taken.account,
  );
  watcher = new Watcher(plan.sources, hub, session, plan);
  hub.add(watcher);
  watcher.start(plan.starts, plan.elsewhere);
}
