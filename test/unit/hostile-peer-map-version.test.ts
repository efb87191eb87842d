/**
 * The client against one node (a fake node on loopback) whose `/cluster` names a live map version
 * far past the cluster's (a bug, a damaged live map, a hostile node; src/client/topology.ts). A
 * version one node alone names more than MAX_MAP_LEAD past every other node's is not believed: the
 * client routes by the map the other nodes vouch for. Before, it adopted that map, and every real
 * map after it was "older" and refused for good: the client never routed by the cluster again.
 * A version past 2^53 (not an integer JavaScript holds) was already refused (view-routes.ts).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { MAX_MAP_LEAD, vouchedBest } from '../../src/client/topology.js';
import type { ClusterView } from '../../src/client/types.js';
import { FakePeers, sendJson } from '../helpers/fake-peer.js';

const peers = new FakePeers();
after(() => peers.close());

/** node starts a fake node whose map (version `mapVersion`) has it lead every slot, answering every key with `value`; `down()` makes it answer 503. */
async function node(mapVersion: number, value: string, down: () => boolean = () => false): Promise<string> {
  return peers.start((req, res, address) => {
    if (down())
      res
        .writeHead(503, { 'content-type': 'application/json' })
        .end('{"error":{"code":"UNAVAILABLE","message":"down"}}');
    else if (req.url?.startsWith('/cluster') === true)
      sendJson(res, {
        version: 'cfg',
        map_version: mapVersion,
        slots: 16384,
        shards: [{ name: 's0', idx: 0, slots: [0, 16383], leader: { address }, replicas: [] }],
      });
    else res.writeHead(200, { etag: `"1.${mapVersion}"` }).end(value);
  });
}

const HUGE = Number.MAX_SAFE_INTEGER;

describe('a node naming a map version far past the cluster', () => {
  it('is not believed when it answers first: the client routes by the map the others vouch for', async () => {
    const bad = await node(HUGE, 'bad');
    const a = await node(7, 'real');
    const b = await node(7, 'real');
    const client = new DistkvClient({
      urls: [`http://${bad}`, `http://${a}`, `http://${b}`],
      timeoutMs: 2000,
      retries: 0,
    });
    try {
      assert.equal(
        Buffer.from((await client.get('k')) ?? '').toString(),
        'real',
        'the client routed by the bad map',
      );
      assert.equal(client.liveMapVersion, 7);
      await client.reload();
      assert.equal(client.liveMapVersion, 7, 'a reload took the bad map');
    } finally {
      await client.close();
    }
  });

  it('does not pin a client that took it while no other node answered: it re-learns the map they vouch for', async () => {
    let othersDown = true;
    const bad = await node(HUGE, 'bad');
    const a = await node(7, 'real', () => othersDown);
    const b = await node(7, 'real', () => othersDown);
    const client = new DistkvClient({
      urls: [`http://${bad}`, `http://${a}`, `http://${b}`],
      timeoutMs: 2000,
      retries: 0,
    });
    try {
      // Only the bad node answers: nothing contradicts it, so its map is taken for now.
      await client.reload();
      assert.equal(client.liveMapVersion, HUGE);
      await client.reload();
      assert.equal(client.liveMapVersion, HUGE);
      // The other nodes answer again (the bad one still lies): the next load takes their map.
      othersDown = false;
      await client.reload();
      assert.equal(client.liveMapVersion, 7, 'the client stayed pinned to the bad map');
      assert.equal(Buffer.from((await client.get('k')) ?? '').toString(), 'real');
      await client.reload();
      assert.equal(client.liveMapVersion, 7);
    } finally {
      await client.close();
    }
  });
});

describe('vouchedBest', () => {
  const v = (map_version: number): { doc: ClusterView } => ({ doc: { map_version } as ClusterView });
  it('takes the newest version two nodes name, or one within MAX_MAP_LEAD of another, or the only one', () => {
    assert.equal(vouchedBest([v(HUGE), v(7), v(7)])?.doc.map_version, 7);
    assert.equal(vouchedBest([v(HUGE), v(7)])?.doc.map_version, 7);
    assert.equal(vouchedBest([v(8), v(7), v(7)])?.doc.map_version, 8, 'a new map one node made first');
    assert.equal(vouchedBest([v(7 + MAX_MAP_LEAD), v(7)])?.doc.map_version, 7 + MAX_MAP_LEAD);
    assert.equal(vouchedBest([v(8 + MAX_MAP_LEAD), v(7)])?.doc.map_version, 7);
    assert.equal(vouchedBest([v(HUGE), v(HUGE), v(7)])?.doc.map_version, HUGE, 'two nodes agree');
    assert.equal(vouchedBest([v(HUGE)])?.doc.map_version, HUGE, 'the only node that answered');
    assert.equal(vouchedBest<{ doc: ClusterView }>([]), undefined);
  });
});
