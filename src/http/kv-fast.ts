/**
 * The single-key fast path: `GET`, `PUT` and `DELETE /kv/{key}` in their common form, served from
 * the parsed request head (router.ts, FastHandler) without the request object, the route wrapper,
 * the query and condition parsing and the body reader's limit checks of kv-routes.ts, which serve
 * every other request.
 *
 * The common form, all of which must hold, else the handler declines and kv-routes.ts serves it:
 *  - the node is serving (no 503 of a starting or draining node);
 *  - no query at all (so no `w`, `timeout_ms`, `ttl_ms`, `max_lag_ms`, nor a bad parameter);
 *  - the key is 1 to `max_key_bytes` characters of printable ASCII without `%` (as sent, so it
 *    is its own decoding and its UTF-8 is itself);
 *  - no If-Match or If-None-Match (on a read too: read-conditions.ts); a PUT's body has a Content-Length that is not
 *    over `max_value_bytes` (chunked, missing or too large: the general path);
 *  - the shard's target is served by this process: its leader for a write with writes not fenced,
 *    and for a read, a replica or a leader holding its lease (no redirect, no proxy, no 503);
 *  - no peer disputes the key's slot (src/server/slot-gate.ts: the general path refuses it).
 * What it then does is what kv-routes.ts does for such a request: the same label, the same
 * operation submitted through the same dispatch, answered by the same KeyRequest, so the answer
 * is the same bytes (test/e2e/kv-fast-model.test.ts checks it against a server without the fast
 * path). A HEAD never comes here (the router hands it the GET route; its handler declines).
 */
import { slotOf } from '../routing/slot.js';
import { readsHeld } from '../server/map-keeper.js';
import { OP_DELETE, OP_GET, OP_PUT, type OpCode } from '../worker/op-format.js';
import { collectBody } from './body.js';
import type { HttpContext } from './context.js';
import type { HttpResponse } from './http1-exchange.js';
import type { RequestHead } from './http1-head.js';
import { KIND_KV_DELETE, KIND_KV_GET, KIND_KV_PUT, type KeyKind } from './key-request.js';
import { readsLeader } from './own-writes.js';
import type { FastHandler } from './router.js';

const KV_PREFIX = '/kv/'.length;

/** KeySubmit submits one key operation as key-dispatch.ts's dispatch does (no write concern, any lag). */
export type KeySubmit = (
  res: HttpResponse,
  kind: KeyKind,
  op: OpCode,
  key: string,
  shard: number,
  value: Uint8Array | undefined,
) => void;

/** KvFastHandlers are the fast handlers of the three REST key routes. */
export interface KvFastHandlers {
  get: FastHandler;
  put: FastHandler;
  del: FastHandler;
}

/**
 * plainKey returns the key of a `/kv/{key}` path when it is 1 to `maxBytes` characters of
 * printable ASCII other than `%`, else undefined. The path holds no control character and no
 * space (http1-head.ts refuses them), so only `%` and characters over 0x7E are looked for.
 */
function plainKey(path: string, maxBytes: number): string | undefined {
  const n = path.length - KV_PREFIX;
  if (n < 1 || n > maxBytes) return undefined;
  for (let i = KV_PREFIX; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 0x25 /* '%' */ || c > 0x7e) return undefined;
  }
  return path.slice(KV_PREFIX);
}

/** hasCondition reports whether a head carries If-Match or If-None-Match. */
function hasCondition(head: RequestHead): boolean {
  return head.names.includes('if-match') || head.names.includes('if-none-match');
}

/** kvFastHandlers builds the fast handlers of one listener (see the design block). */
export function kvFastHandlers(ctx: HttpContext, submit: KeySubmit): KvFastHandlers {
  const maxKey = ctx.config.server.max_key_bytes;
  const maxValue = ctx.config.server.max_value_bytes;
  const state = ctx.state;
  const listener = ctx.listener;
  const liveMap = ctx.liveMap;
  const shardMap = ctx.shardMap;
  const gate = ctx.slotGate;

  /**
   * writeShard returns the shard of a write this process serves now, its key left in `writeKey`,
   * else -1 (the general path takes it). No object per write: the key is read before the next call.
   */
  let writeKey = '';
  const writeShard = (head: RequestHead): number => {
    if (head.query !== '' || state.phase !== 'serving' || hasCondition(head)) return -1;
    const key = plainKey(head.path, maxKey);
    if (key === undefined) return -1;
    const slot = slotOf(key);
    if (gate.disputed(slot)) return -1;
    const shard = shardMap.shardOfSlot(slot);
    const target = listener.writes[shard]!;
    if (!target.local || liveMap.writesFenced(shard)) return -1;
    writeKey = key;
    return shard;
  };

  return {
    get: (res, head) => {
      if (head.method !== 'GET' || head.query !== '' || state.phase !== 'serving' || hasCondition(head))
        return false;
      const key = plainKey(head.path, maxKey);
      if (key === undefined) return false;
      const slot = slotOf(key);
      if (gate.disputed(slot)) return false;
      const shard = shardMap.shardOfSlot(slot);
      const target = listener.reads[shard]!;
      if (!target.local || readsHeld(liveMap, target.role, shard)) return false;
      // After a write this connection forwarded to the shard's leader: read there (own-writes.ts).
      if (target.role === 'replica' && readsLeader(ctx, res.connection, shard)) return false;
      res.route = 'kv_get';
      submit(res, KIND_KV_GET, OP_GET, key, shard, undefined);
      return true;
    },
    del: (res, head) => {
      const shard = writeShard(head);
      if (shard < 0) return false;
      res.route = 'kv_delete';
      submit(res, KIND_KV_DELETE, OP_DELETE, writeKey, shard, undefined);
      return true;
    },
    put: (res, head) => {
      if (head.chunked || head.contentLength < 0 || head.contentLength > maxValue) return false;
      const shard = writeShard(head);
      if (shard < 0) return false;
      const key = writeKey;
      res.route = 'kv_put';
      collectBody(res, head.contentLength, maxValue, 'value', (body) => {
        submit(res, KIND_KV_PUT, OP_PUT, key, shard, body);
      });
      return true;
    },
  };
}
