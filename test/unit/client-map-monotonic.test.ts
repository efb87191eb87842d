/**
 * The client's live map only moves forward, as a node's does (docs/failover.md): a reload that
 * reaches a node which has not learned the newest map (cut off from its peers, or a peer poll
 * behind) keeps the map the client has; it used to adopt the older map and route the shard back to
 * its deposed leader. And an answer that names a newer map than any node serves starts a look for
 * it at most every 250 ms, not one after another. Twins: O1 (first url) serves map 1 (leader A), O2
 * serves map 2 (leader B); B answers key requests naming map `bMap`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { type HandlerTwin, oneShardView, startHandlerTwin } from '../helpers/twin-server.js';

let o1: HandlerTwin;
let o2: HandlerTwin;
let b: HandlerTwin;
let o1Up = false;
let bMap = 2;
let clusterAsks = 0;

before(async () => {
  b = await startHandlerTwin((req, res) => {
    if (req.url === '/cluster') {
      clusterAsks++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(oneShardView(b.address, 2));
      return;
    }
    res.writeHead(200, { 'x-distkv-map': String(bMap), etag: '"2.1"' }).end('v');
  });
  o1 = await startHandlerTwin((req, res) => {
    if (!o1Up) {
      req.socket.destroy();
      return;
    }
    clusterAsks++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(oneShardView('127.0.0.1:1', 1));
  });
  o2 = await startHandlerTwin((_req, res) => {
    clusterAsks++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(oneShardView(b.address, 2));
  });
});

after(async () => {
  await Promise.all([o1.stop(), o2.stop(), b.stop()]);
});

describe('client live map', () => {
  it('keeps its map when a reload reaches a node with an older one', async () => {
    const client = new DistkvClient({ urls: [o1.address, o2.address] });
    try {
      o1Up = false;
      await client.topology();
      assert.equal(client.liveMapVersion, 2, 'loaded from O2 while O1 was down');
      o1Up = true;
      await client.reload();
      assert.equal(client.liveMapVersion, 2, 'went back to map 1 from the stale O1');
      assert.equal((await client.topology()).shard(0).address, b.address);
      assert.equal(await client.getString('k'), 'v');
    } finally {
      await client.close();
    }
  });

  it('looks for a newer map an answer names at most every 250 ms', async () => {
    const client = new DistkvClient({ urls: [o2.address] });
    try {
      await client.topology();
      bMap = 9; // a map no node serves
      clusterAsks = 0;
      const t0 = performance.now();
      while (performance.now() - t0 < 1000) await client.get('k');
      const looks = clusterAsks;
      assert.ok(looks <= 5 * 3, `asked /cluster ${looks} times in a second`);
      assert.ok(looks >= 2, `asked /cluster ${looks} times: the newer map was not looked for`);
    } finally {
      bMap = 2;
      await client.close();
    }
  });
});
