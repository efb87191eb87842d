/**
 * `w` and `timeout_ms` of the REST key routes (src/http/kv-routes.ts, writeConcern):
 *  - `timeout_ms` bounds only the wait for `w`. Given without `w` it was accepted silently by GET,
 *    PUT and DELETE alike, for a wait that never happens (the client library and the CLI refuse
 *    the same combination); all three now refuse it, 400 INVALID_ARGUMENT naming the fix, and
 *    execute nothing. `w=0` with a `timeout_ms` stays accepted, as the client sends it.
 *  - at a shard without replicas, `w` can only be 0: the refusal said "w must be an integer in
 *    0..0", which read as a wrong bound; it now says that the shard has no replicas.
 * The context is a twin with two shards: shard-0 with one replica, shard-1 with none.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { Http1Server } from '../../src/http/http1-server.js';
import { registerKvRoutes } from '../../src/http/kv-routes.js';
import { Router } from '../../src/http/router.js';
import { ShardMap } from '../../src/routing/shard-map.js';
import { slotOf } from '../../src/routing/slot.js';
import type { OpHandler } from '../../src/server/worker-pool.js';
import { ST_DONE } from '../../src/worker/op-format.js';
import { kvTwinContext } from '../helpers/kv-route-twin.js';
import { startRouterServer } from '../helpers/router-server.js';

const shardMap = new ShardMap([
  { name: 'shard-0', idx: 0, address: 'here', replicas: ['there'], slots: { first: 0, last: 8191 } },
  { name: 'shard-1', idx: 1, address: 'here', replicas: [], slots: { first: 8192, last: 16383 } },
]);
/** submitted lists the `w` and timeout of each operation sent to the (twin) worker. */
let submitted: [number, number][] = [];
const ctx = kvTwinContext({
  shardMap,
  submit(_wk: number, _op: number, _s: number, _k: unknown, _v: unknown, h: OpHandler, w: number, t: number) {
    submitted.push([w, t]);
    h.onReply(ST_DONE, 1, Buffer.alloc(0));
  },
});

/** keyOf returns a key of shard `idx`. */
function keyOf(idx: number): string {
  for (let i = 0; ; i++) if (shardMap.shardOfSlot(slotOf(`k${i}`)) === idx) return `k${i}`;
}
const WITH_REPLICA = keyOf(0);
const NO_REPLICAS = keyOf(1);

let server: Http1Server;
let base = '';

before(async () => {
  const router = new Router();
  registerKvRoutes(router, ctx, false);
  const started = await startRouterServer(router);
  server = started.server;
  base = `http://127.0.0.1:${String(started.port)}`;
});

after(() => {
  server.close();
});

beforeEach(() => {
  submitted = [];
});

/** askAll sends GET, PUT and DELETE of `key` with `query`; returns [method, status, code, message] of each. */
async function askAll(key: string, query: string): Promise<[string, number, string, string][]> {
  const out: [string, number, string, string][] = [];
  for (const method of ['GET', 'PUT', 'DELETE']) {
    const r = await fetch(`${base}/kv/${key}?${query}`, {
      method,
      ...(method === 'PUT' ? { body: 'v' } : {}),
    });
    const text = await r.text();
    const error =
      r.status >= 400 ? (JSON.parse(text) as { error: { code: string; message: string } }).error : undefined;
    out.push([method, r.status, error?.code ?? '', error?.message ?? '']);
  }
  return out;
}

describe('timeout_ms without w', () => {
  it('is refused 400 by GET, PUT and DELETE alike, naming w, and nothing is executed', async () => {
    for (const [method, status, code, message] of await askAll(WITH_REPLICA, 'timeout_ms=100')) {
      assert.deepEqual([status, code], [400, 'INVALID_ARGUMENT'], method);
      assert.match(
        message,
        /^timeout_ms bounds the wait for w .* given without w: add w=N \(N from 1 to 1, the replicas of the key's shard shard-0\), or drop timeout_ms$/,
        method,
      );
    }
    assert.deepEqual(submitted, []);
  });

  it('at a shard without replicas, says to drop it', async () => {
    for (const [method, status, , message] of await askAll(NO_REPLICAS, 'timeout_ms=100')) {
      assert.equal(status, 400, method);
      assert.match(
        message,
        /given without w: drop timeout_ms \(the key's shard, shard-1, has no replicas to wait for\)$/,
      );
    }
    assert.deepEqual(submitted, []);
  });

  it('is still checked for its own bound first', async () => {
    for (const [method, status, , message] of await askAll(WITH_REPLICA, 'timeout_ms=')) {
      assert.equal(status, 400, method);
      assert.match(message, /^timeout_ms is empty/, method);
    }
  });

  it('with w, even w=0, is taken as before', async () => {
    for (const [method, status] of await askAll(WITH_REPLICA, 'w=1&timeout_ms=100'))
      assert.ok(status < 300, `${method}: ${status}`);
    for (const [method, status] of await askAll(NO_REPLICAS, 'w=0&timeout_ms=100'))
      assert.ok(status < 300, `${method}: ${status}`);
    assert.deepEqual(submitted, [
      [1, 100],
      [1, 100],
      [1, 100],
      [0, 100],
      [0, 100],
      [0, 100],
    ]);
  });
});

describe('w at a shard without replicas', () => {
  it('is refused saying the shard has no replicas, not "0..0"', async () => {
    for (const [method, status, code, message] of await askAll(NO_REPLICAS, 'w=1')) {
      assert.deepEqual([status, code], [400, 'INVALID_ARGUMENT'], method);
      assert.equal(
        message,
        `w must be 0, got "1": the key's shard (shard-1) has no replicas to wait for`,
        method,
      );
    }
    assert.deepEqual(submitted, []);
  });

  it('takes w=0, and says the same of an empty or malformed w', async () => {
    for (const [method, status] of await askAll(NO_REPLICAS, 'w=00')) assert.ok(status < 300, method);
    for (const [query, pattern] of [
      ['w=', /^w is empty; expected 0: the key's shard \(shard-1\) has no replicas to wait for$/],
      ['w=-1', /^w must be 0, got "-1": the key's shard \(shard-1\) has no replicas/],
    ] as const)
      for (const [method, status, , message] of await askAll(NO_REPLICAS, query)) {
        assert.equal(status, 400, `${method} ?${query}`);
        assert.match(message, pattern, `${method} ?${query}`);
      }
  });

  it('at a shard with replicas, names the bound as before', async () => {
    for (const [method, status, , message] of await askAll(WITH_REPLICA, 'w=2'))
      assert.deepEqual([status, message], [400, 'w must be an integer in 0..1, got "2"'], method);
  });
});
