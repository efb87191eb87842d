/**
 * A node that is starting (its stores opening, seconds after a crash with many keys) or draining
 * answers every key request 503 STARTING or DRAINING before any handler runs (src/http/route.ts):
 * not executed, so it may be sent again. The answer had no `Retry-After`, which a generic HTTP
 * client (not distkv's, which waits 200 ms) reads as "retry at will": a restart measured 2,000 to
 * 5,000 such answers from clients that asked again at once, each costing the starting node's main
 * thread CPU its stores needed (docs/performance.md, "Restart after a crash"). Now it says
 * `Retry-After: 1`, as a leader switch's 503 does. The context is a twin; every request a client may
 * send for a key is asked, the single-key fast path's too.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Http1Server } from '../../src/http/http1-server.js';
import { registerKvRoutes } from '../../src/http/kv-routes.js';
import { Router } from '../../src/http/router.js';
import type { Phase } from '../../src/http/context.js';
import { kvTwinContext } from '../helpers/kv-route-twin.js';
import { startRouterServer } from '../helpers/router-server.js';

let submitted = 0;
const state: { phase: Phase } = { phase: 'starting' };
const ctx = kvTwinContext({
  state,
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

describe('a key request at a node that is not serving', () => {
  for (const [phase, code] of [
    ['starting', 'STARTING'],
    ['draining', 'DRAINING'],
  ] as const) {
    it(`is answered 503 ${code} with Retry-After while ${phase}`, async () => {
      state.phase = phase;
      const base = `http://127.0.0.1:${String(port)}`;
      const answers = [
        await fetch(`${base}/kv/k`),
        await fetch(`${base}/kv/k?w=0`),
        await fetch(`${base}/kv/k`, { method: 'PUT', body: 'v' }),
        await fetch(`${base}/kv/k`, { method: 'DELETE' }),
      ];
      for (const r of answers) {
        assert.equal(r.status, 503);
        assert.equal(((await r.json()) as { error: { code: string } }).error.code, code);
        assert.equal(r.headers.get('retry-after'), '1');
      }
      assert.equal(submitted, 0, 'nothing reached a store');
    });
  }
});
