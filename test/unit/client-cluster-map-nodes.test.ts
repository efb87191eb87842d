/**
 * `client.cluster()` whose configured node died for good asks the other nodes of the map the client
 * has, in the order a reload asks them (src/client/topology.ts, askable): it asked only the
 * configured nodes, so it failed ("no node answered /cluster") although the client knew nodes that
 * answer, and `distkv restore` asked the map's nodes itself.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import type { DistkvError } from '../../src/errors.js';
import { freePort } from '../helpers/ports.js';
import { startTwinServer, type TwinServer } from '../helpers/twin-server.js';

const twins: TwinServer[] = [];
after(async () => {
  await Promise.all(twins.map((t) => t.stop()));
});

/** clusterDoc is the /cluster answer of `node`: shard 0 led by `leader`, replicated on `replica`. */
function clusterDoc(node: string, leader: string, replica: string): object {
  return {
    version: 'cfg',
    map_version: 1,
    node,
    shards: [
      {
        name: 'shard-0',
        idx: 0,
        slots: [0, 16383],
        leader: { address: leader },
        replicas: [{ address: replica }],
      },
    ],
  };
}

describe('cluster() when the configured node is gone', () => {
  it('answers with the view of another node of the map the client has', async () => {
    const gone = `127.0.0.1:${await freePort()}`;
    const other = await startTwinServer((url) =>
      url === '/cluster' ? clusterDoc(other.address, other.address, gone) : undefined,
    );
    twins.push(other);
    // The configured node's map names `other` as the replica.
    const seen = await startTwinServer((url) =>
      url === '/cluster' ? clusterDoc(seen.address, seen.address, other.address) : undefined,
    );
    twins.push(seen);
    const client = new DistkvClient({ urls: [`http://${seen.address}`] });
    try {
      assert.equal((await client.cluster()).node, seen.address, 'the configured node first');
      await client.reload();
      await seen.stop();
      assert.equal((await client.cluster()).node, other.address, 'then a node its map named');
    } finally {
      await client.close();
    }
  });

  it('names the nodes of the map it asked when none answers', async () => {
    const gone = `127.0.0.1:${await freePort()}`;
    const seen = await startTwinServer((url) =>
      url === '/cluster' ? clusterDoc(seen.address, gone, gone) : undefined,
    );
    twins.push(seen);
    const client = new DistkvClient({ urls: [`http://${seen.address}`] });
    try {
      await client.reload();
      await seen.stop();
      await assert.rejects(client.cluster(), (err: DistkvError) => {
        assert.equal(err.code, 'SHARD_UNREACHABLE');
        assert.match(err.message, /^no node answered \/cluster \(.*, and 1 more node of its map\)/);
        return true;
      });
    } finally {
      await client.close();
    }
  });
});
