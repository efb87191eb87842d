/**
 * HTTP key requests at a leader held behind its replica (src/http/kv-routes.ts): 503 LEADER_BEHIND
 * while a person must promote the replica; once the coordinator gave up the shard's leader key for
 * the replica to take over by itself (src/coordination/behind-resign.ts), 503 SWITCHING_LEADER with
 * `Retry-After` and the map's version, as any switch is answered, so clients wait it out. Both
 * the fast path and the general one (a query) are asked; the context is a twin.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Http1Server } from '../../src/http/http1-server.js';
import { registerKvRoutes } from '../../src/http/kv-routes.js';
import { Router } from '../../src/http/router.js';
import { DistkvError } from '../../src/errors.js';
import { kvTwinContext } from '../helpers/kv-route-twin.js';
import { startRouterServer } from '../helpers/router-server.js';

let behind = new DistkvError('LEADER_BEHIND', 'promote the replica');
let submitted = 0;
const ctx = kvTwinContext({
  liveMap: {
    // A held shard's writes are fenced (map-keeper.ts), which sends the fast path to the general one.
    writesFenced: () => true,
    behindError: () => behind,
    current: { version: 7, shards: [] },
  },
  submit() {
    submitted++;
  },
});

let server: Http1Server;
let port = 0;

before(async () => {
  const router = new Router();
  registerKvRoutes(router, ctx, true);
  ({ port, server } = await startRouterServer(router));
});

after(() => {
  server.close();
});

/** ask sends each request a client may send for key `k` and returns the answers. */
async function ask(): Promise<Response[]> {
  const base = `http://127.0.0.1:${String(port)}`;
  return [
    await fetch(`${base}/kv/k`),
    await fetch(`${base}/kv/k?w=0`),
    await fetch(`${base}/kv/k`, { method: 'PUT', body: 'v' }),
    await fetch(`${base}/kv/k`, { method: 'DELETE' }),
  ];
}

describe('key requests at a leader held behind its replica', () => {
  it('are refused with LEADER_BEHIND while it keeps its leader key', async () => {
    behind = new DistkvError('LEADER_BEHIND', 'promote the replica');
    for (const r of await ask()) {
      assert.equal(r.status, 503);
      assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'LEADER_BEHIND');
      assert.equal(r.headers.get('retry-after'), null);
    }
    assert.equal(submitted, 0);
  });

  it('are held as a switch once it gave the key up for the replica', async () => {
    behind = new DistkvError('SWITCHING_LEADER', 'the replica takes the shard over');
    for (const r of await ask()) {
      assert.equal(r.status, 503);
      const body = ((await r.json()) as { error: { code: string; message: string } }).error;
      assert.deepEqual([body.code, body.message], ['SWITCHING_LEADER', 'the replica takes the shard over']);
      assert.equal(r.headers.get('retry-after'), '1', r.url);
      assert.equal(r.headers.get('x-distkv-map'), '7', r.url);
    }
    assert.equal(submitted, 0);
  });
});
