/**
 * A client whose configured node died for good (the leader a failover replaced, the one node in
 * DISTKV_URL) reloads its map from the other nodes of the map it has (src/client/topology.ts,
 * askable): it used to ask only the configured nodes, so every reload failed (or, with
 * refusedWaitMs, waited that long first), although the client knew nodes that answer. So does
 * `cluster()` without a node.
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

/**
 * seenAndOther starts the configured node (`seen`), whose map names `other` as the replica, and
 * `other`, which has learned a newer map where it leads shard 0; `leader` is the leader `seen` names.
 */
async function seenAndOther(): Promise<{ leader: string; seen: TwinServer; other: TwinServer }> {
  const leader = `127.0.0.1:${await freePort()}`;
  const other = await startTwinServer((url) =>
    url === '/cluster' ? clusterDoc(2, other.address, leader) : undefined,
  );
  twins.push(other);
  const seen = await startTwinServer((url) =>
    url === '/cluster' ? clusterDoc(1, leader, other.address) : undefined,
  );
  twins.push(seen);
  return { leader, seen, other };
}

/**
 * namesMapNodes checks that `call` (a reload, cluster()) of a client whose configured node is gone,
 * and whose map names only a node that is gone too, fails naming the nodes of the map it asked.
 */
async function namesMapNodes(call: (c: DistkvClient) => Promise<unknown>): Promise<void> {
  const gone = `127.0.0.1:${await freePort()}`;
  const seen = await startTwinServer((url) => (url === '/cluster' ? clusterDoc(1, gone, gone) : undefined));
  twins.push(seen);
  const client = new DistkvClient({ urls: [`http://${seen.address}`] });
  try {
    await client.reload();
    await seen.stop();
    await assert.rejects(call(client), (err: DistkvError) => {
      assert.equal(err.code, 'SHARD_UNREACHABLE');
      assert.match(err.message, /^no node answered \/cluster \(.*, and 1 more node of its map\)/);
      return true;
    });
  } finally {
    await client.close();
  }
}

describe('reloading the map when the configured node is gone', () => {
  it('asks the other nodes of the map it has', async () => {
    const { leader, seen, other } = await seenAndOther();
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
    await namesMapNodes((c) => c.reload());
  });
});

/**
 * cluster() asks the nodes in the order a reload does: it asked only the configured ones, so it
 * failed although the client knew nodes that answer (and `distkv restore` asked the map's itself).
 */
describe('cluster() when the configured node is gone', () => {
  it('answers with the view of another node of the map the client has', async () => {
    const { leader, seen, other } = await seenAndOther();
    const client = new DistkvClient({ urls: [`http://${seen.address}`] });
    try {
      assert.equal((await client.cluster()).shards[0]?.leader.address, leader, 'the configured node first');
      await client.reload();
      await seen.stop();
      assert.equal(
        (await client.cluster()).shards[0]?.leader.address,
        other.address,
        'then a node its map named',
      );
    } finally {
      await client.close();
    }
  });

  it('names the nodes of the map it asked when none answers', async () => {
    await namesMapNodes((c) => c.cluster());
  });
});
