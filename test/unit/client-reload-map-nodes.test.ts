/**
 * A client whose configured node died for good (the leader a failover replaced, the one node in
 * DISTKV_URL) reloads its map from the other nodes of the map it has (src/client/topology.ts,
 * askable): it used to ask only the configured nodes, so every reload failed (or, with
 * refusedWaitMs, waited that long first), although the client knew nodes that answer.
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

/** clusterDoc is a /cluster answer of map version `v`: shard 0 led by `leader`, replicated on `replica`. */
function clusterDoc(v: number, leader: string, replica: string): object {
  return {
    version: 'cfg',
    map_version: v,
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

describe('reloading the map when the configured node is gone', () => {
  it('asks the other nodes of the map it has', async () => {
    const leader = `127.0.0.1:${await freePort()}`;
    // `other` has learned a newer map: it leads shard 0 now.
    const other = await startTwinServer((url) =>
      url === '/cluster' ? clusterDoc(2, other.address, leader) : undefined,
    );
    twins.push(other);
    // The configured node's map names `other` as the replica.
    const seen = await startTwinServer((url) =>
      url === '/cluster' ? clusterDoc(1, leader, other.address) : undefined,
    );
    twins.push(seen);
    const client = new DistkvClient({ urls: [`http://${seen.address}`] });
    try {
      await client.reload();
      assert.equal((await client.topology()).shard(0).address, leader);
      // The configured node goes for good.
      await seen.stop();
      await client.reload();
      assert.equal(
        (await client.topology()).shard(0).address,
        other.address,
        'the map of a node the map named',
      );
    } finally {
      await client.close();
    }
  });

  it('names the nodes of the map it asked when none answers', async () => {
    const gone = `127.0.0.1:${await freePort()}`;
    const seen = await startTwinServer((url) => (url === '/cluster' ? clusterDoc(1, gone, gone) : undefined));
    twins.push(seen);
    const client = new DistkvClient({ urls: [`http://${seen.address}`] });
    try {
      await client.reload();
      await seen.stop();
      await assert.rejects(client.reload(), (err: DistkvError) => {
        assert.equal(err.code, 'SHARD_UNREACHABLE');
        assert.match(err.message, /no node answered \/cluster \(.*, and 1 more node of its map\)/);
        return true;
      });
    } finally {
      await client.close();
    }
  });
});
