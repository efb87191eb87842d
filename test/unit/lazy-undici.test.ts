/**
 * The part of undici distkv loads (src/util/lazy-undici.ts): its pools, agents and `request` work
 * as the package's own (methods, paths with a query, bodies, a named dispatcher), without loading
 * the package's index (fetch, WebSocket, mocks, Node's bundled undici: ~80 ms of CPU more per
 * process that sends a request).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { undici, undiciLoaded } from '../../src/util/lazy-undici.js';

let server: Server;
let origin = '';

before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ method: req.method, url: req.url, body }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
});

after(() => {
  server.close();
});

describe('lazy undici', () => {
  it('loads nothing until asked, then pools, agents and request answer', async () => {
    assert.equal(undiciLoaded(), undefined);
    const u = await undici();
    assert.equal(undiciLoaded(), u);

    const pool = new u.Pool(origin, { connections: 1 });
    const viaPool = await pool.request({ origin, path: '/kv/a?w=1', method: 'PUT', body: 'x' });
    assert.deepEqual(await viaPool.body.json(), { method: 'PUT', url: '/kv/a?w=1', body: 'x' });
    await pool.close();

    const agent = new u.Agent({ connections: 1 });
    const got = await u.request(`${origin}/cluster?x=1`, { dispatcher: agent });
    assert.equal(got.statusCode, 200);
    assert.deepEqual(await got.body.json(), { method: 'GET', url: '/cluster?x=1', body: '' });
    const put = await u.request(`${origin}/p`, { dispatcher: agent, body: 'b' });
    assert.deepEqual(
      await put.body.json(),
      { method: 'PUT', url: '/p', body: 'b' },
      "a body without a method is a PUT, as undici's",
    );
    const del = await u.request(`${origin}/d`, { dispatcher: agent, method: 'DELETE' });
    assert.equal(((await del.body.json()) as { method: string }).method, 'DELETE');
    await agent.close();
  });

  it("does not load the package's index", async () => {
    await undici();
    const cache = createRequire(import.meta.url).cache;
    const loaded = Object.keys(cache).filter((k) => k.includes('/node_modules/undici/'));
    assert.ok(loaded.length > 0, 'the dispatchers are loaded');
    assert.equal(
      loaded.filter((k) => k.endsWith('/node_modules/undici/index.js')).length,
      0,
      loaded.join('\n'),
    );
    assert.ok(loaded.length < 60, `${String(loaded.length)} modules of undici loaded`);
  });
});
