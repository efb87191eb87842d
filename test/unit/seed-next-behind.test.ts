/**
 * The seed's `/next-replication-key` at a node whose leader of a shard is held behind its replica
 * (src/server/behind-leaders.ts; every other route on the shard answers 503 LEADER_BEHIND): it
 * answered the empty pair, which the seed's replica reads as "caught up", so it stopped asking for
 * the shard's records. It now refuses as text, which the seed's replica cannot decode as JSON and
 * asks again after (a JSON error body would decode as the empty pair too), while another shard's
 * changes at the address are still offered, and the held store's own cursor is offered nothing.
 * The context is a twin: two leaders here, shard 0 held, shard 1 with one change or none.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { DistkvError } from '../../src/errors.js';
import type { HttpContext } from '../../src/http/context.js';
import type { Http1Server } from '../../src/http/http1-server.js';
import { registerReplRoutes } from '../../src/http/repl-routes.js';
import { Router } from '../../src/http/router.js';
import { startRouterServer } from '../helpers/router-server.js';

const HERE = 'here:1';
let behind: DistkvError | undefined;
/** changes holds each store's next change (store index = shard idx); asked lists the stores asked. */
let changes: ({ key: string; value: string } | null)[] = [];
let asked: number[] = [];

const ctx = {
  config: { server: { token: '' } },
  state: { phase: 'serving' },
  listener: { address: HERE },
  plan: {
    stores: [0, 1].map((idx) => ({ role: 'leader', node: HERE, shard: { idx }, worker: 0, index: idx })),
  },
  liveMap: { behindError: (idx: number) => (idx === 0 ? behind : undefined) },
  pool: {
    call(_worker: number, msg: { type: string; stores: number[]; key?: string; value?: string }) {
      const store = msg.stores[0]!;
      asked.push(store);
      const change = changes[store] ?? null;
      const acked = msg.type === 'seed-ack' && change !== null && change.key === msg.key;
      if (acked) changes[store] = null;
      return Promise.resolve({ type: 'seed-result', id: 0, ok: true, change, acked });
    },
  },
} as unknown as HttpContext;

let server: Http1Server;
let base = '';

before(async () => {
  const router = new Router();
  registerReplRoutes(router, ctx);
  const started = await startRouterServer(router);
  server = started.server;
  base = `http://127.0.0.1:${String(started.port)}`;
});

after(() => {
  server.close();
});

beforeEach(() => {
  behind = new DistkvError('LEADER_BEHIND', "shard 0's leader here started on an empty store");
  // As found: the held leader started on an empty store (nothing to offer), shard 1 caught up.
  changes = [null, null];
  asked = [];
});

describe('/next-replication-key at a leader held behind its replica', () => {
  it('is refused 503 as text, not answered with the empty pair a seed replica reads as caught up', async () => {
    const r = await fetch(`${base}/next-replication-key`);
    const text = await r.text();
    assert.equal(r.status, 503);
    assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(text, "Error: shard 0's leader here started on an empty store\n");
    // What the seed's replica does with the body: it does not decode, so it asks again.
    assert.throws(() => JSON.parse(text) as unknown);
    assert.deepEqual(asked, [1], "the held store's cursor was not read");
  });

  it("still offers another shard's changes at the address, and acknowledges them", async () => {
    changes[1] = { key: 'k', value: 'v' };
    const r = await fetch(`${base}/next-replication-key`);
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { key: 'k', value: 'v' });
    const ack = await fetch(`${base}/delete-replication-key?key=k&value=v`);
    assert.deepEqual([ack.status, await ack.text()], [200, 'ok']);
    assert.equal((await fetch(`${base}/next-replication-key`)).status, 503, 'then refused again');
    assert.ok(!asked.includes(0), "the held store's cursor was neither read nor acknowledged");
  });

  it("an acknowledgement without value is refused 400 as the seed's, not 409 (value= acknowledges a delete)", async () => {
    changes[1] = { key: 'k', value: '' };
    const missing = await fetch(`${base}/delete-replication-key?key=k`);
    assert.deepEqual([missing.status, await missing.text()], [400, 'Missing key or value\n']);
    const ack = await fetch(`${base}/delete-replication-key?key=k&value=`);
    assert.deepEqual([ack.status, await ack.text()], [200, 'ok']);
  });

  it('is answered with the empty pair again once the shard is no longer held', async () => {
    behind = undefined;
    const r = await fetch(`${base}/next-replication-key`);
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { key: '', value: '' });
  });
});
