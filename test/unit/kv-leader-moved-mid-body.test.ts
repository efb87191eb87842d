/**
 * A PUT whose key was placed here when its head arrived, and whose shard's leader a new map moved
 * to another node before its body was whole (a failover during a slow upload): it is not executed
 * and answers 503 SWITCHING_LEADER, which a client sends again, never a 500 INTERNAL naming a bug
 * ("dispatch: shard 0 is not local"). Both the fast path (kv-fast.ts) and the general one
 * (kv-routes.ts, with a query) take it, over a real HTTP/1 server and routes whose context is a
 * twin: one shard, its routing table swapped as the map keeper swaps it.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Http1Server } from '../../src/http/http1-server.js';
import { registerKvRoutes } from '../../src/http/kv-routes.js';
import { Router } from '../../src/http/router.js';
import type { Target } from '../../src/server/node-plan.js';
import type { OpHandler } from '../../src/server/worker-pool.js';
import { ST_DONE } from '../../src/worker/op-format.js';
import { HERE, kvTwinContext } from '../helpers/kv-route-twin.js';
import { startRouterServer } from '../helpers/router-server.js';

const ELSEWHERE: Target = { local: false, address: '127.0.0.1:1' };

const listener: { writes: Target[]; reads: Target[] } = { writes: [HERE], reads: [HERE] };
let submitted = 0;
const ctx = kvTwinContext({
  listener,
  liveMap: { current: { version: 2, shards: [] } },
  submit(_w: number, _op: number, _s: number, _k: unknown, _v: unknown, h: OpHandler) {
    submitted++;
    h.onReply(ST_DONE, 1, Buffer.alloc(0));
  },
});

const servers: Http1Server[] = [];
let fastPort = 0;
let generalPort = 0;

async function start(fast: boolean): Promise<number> {
  const router = new Router();
  registerKvRoutes(router, ctx, fast);
  const { port, server } = await startRouterServer(router);
  servers.push(server);
  return port;
}

before(async () => {
  fastPort = await start(true);
  generalPort = await start(false);
});

after(() => {
  for (const s of servers) s.close();
});

/** putWithLateBody sends a PUT's head and half its body, calls `between`, then the rest; returns the answer (the server closes after it). */
function putWithLateBody(port: number, target: string, between: () => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let out = '';
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      out += d;
    });
    sock.on('close', () => {
      resolve(out);
    });
    sock.on('error', reject);
    sock.write(
      `PUT ${target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 4\r\n\r\nab`,
      () => {
        setTimeout(() => {
          between();
          sock.write('cd');
        }, 50);
      },
    );
    setTimeout(() => {
      sock.destroy();
    }, 3000).unref();
  });
}

describe("a write whose shard's leader moves away while its body arrives", () => {
  for (const [path, name] of [
    ['fast', '/kv/k'],
    ['general', '/kv/k?w=0'],
  ] as const)
    it(`is not executed and answers 503 SWITCHING_LEADER (${path} path)`, async () => {
      listener.writes = [HERE];
      submitted = 0;
      const answer = await putWithLateBody(path === 'fast' ? fastPort : generalPort, name, () => {
        listener.writes = [ELSEWHERE];
      });
      assert.match(answer, /^HTTP\/1\.1 503 /, answer);
      assert.match(answer, /"code":"SWITCHING_LEADER"/);
      assert.match(answer, /Retry-After: 1/);
      assert.equal(submitted, 0, 'nothing was submitted');
    });

  it('is executed when the leader stays (the twin answers 204)', async () => {
    listener.writes = [HERE];
    submitted = 0;
    const answer = await putWithLateBody(fastPort, '/kv/k', () => undefined);
    assert.match(answer, /^HTTP\/1\.1 204 /, answer);
    assert.equal(submitted, 1);
  });
});
