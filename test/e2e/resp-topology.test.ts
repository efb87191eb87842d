/**
 * A topology change under a Redis cluster client: node B's shard moves to node C (its store
 * directory copied while the nodes are stopped, the config changed, the nodes restarted), and
 * ioredis's cluster client keeps answering as the model says: it learns the new owner from the
 * surviving nodes' CLUSTER SLOTS and -MOVED, and every key written before the move is still there.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Cluster } from 'ioredis';
import { TestCluster } from '../helpers/cluster.js';
import { seededRandom, testSeed } from '../helpers/random.js';
import { freeNodeAddress, respOf } from '../helpers/resp.js';
import { writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

let cluster: TestCluster;
let nodes: string[] = [];
const SLOTS = ['0-5460', '5461-10922', '10923-16383'];

/** storeDir is where TestCluster's node `address` keeps the store of `shard`. */
const storeDir = (address: string, shard: string): string =>
  join(dir, address.replace(/[:.]/g, '_'), address.replaceAll(':', '_'), shard);

before(async () => {
  nodes = [await freeNodeAddress(), await freeNodeAddress(), await freeNodeAddress()];
  cluster = await TestCluster.start({
    dir,
    shards: nodes.map((address, i) => ({ address, slots: SLOTS[i]! })),
  });
});

after(async () => {
  await cluster.stop();
});

// Created here, not in before(): an after() registered inside a root before() runs as soon as that
// hook ends (Node 20) and would delete the directory under the running servers. Registered after
// the stop hook, so the servers stop before the directory is removed.
const dir = tempDir(after);

describe('RESP cluster client across a topology change', () => {
  it("keeps every key and follows the new owner when node B's shard moves to node C", async () => {
    const seed = testSeed();
    const rnd = seededRandom(seed);
    const [a, b, c] = nodes as [string, string, string];
    const client = new Cluster([respOf(a), respOf(c)], {
      redisOptions: { maxRetriesPerRequest: 20 },
      slotsRefreshTimeout: 5000,
      clusterRetryStrategy: () => 200,
    });
    // While every node is stopped the client reports failed slot refreshes; they are expected.
    client.on('error', () => undefined);
    const model = new Map<string, string>();
    const mixed = async (n: number, phase: string): Promise<void> => {
      for (let i = 0; i < n; i++) {
        const k = `topo:${Math.floor(rnd() * 200)}`;
        const at = `seed ${seed} ${phase} op ${i} key ${k}`;
        if (rnd() < 0.5) {
          const v = `${phase}${i}`;
          assert.equal(await client.set(k, v), 'OK', at);
          model.set(k, v);
        } else assert.equal(await client.get(k), model.get(k) ?? null, at);
      }
    };
    try {
      await mixed(1000, 'before');
      // Move shard-1 from B to C: stop everything, copy its store, restart A and C with the new layout.
      await cluster.stop();
      mkdirSync(join(dir, 'v2'));
      const moved = writeConfig(join(dir, 'v2'), [
        { address: a, slots: SLOTS[0]! },
        { address: c, slots: SLOTS[1]! },
        { address: c, slots: SLOTS[2]! },
      ]);
      cpSync(storeDir(b, 'shard-1'), storeDir(c, 'shard-1'), { recursive: true });
      await Promise.all([cluster.startNode(a, moved), cluster.startNode(c, moved)]);
      for (const [k, v] of model) assert.equal(await client.get(k), v, `seed ${seed}: after the move, ${k}`);
      await mixed(1000, 'after');
      const slotsView = (await client.cluster('SLOTS')) as unknown as [number, number, [string, number]][];
      const owner = slotsView.find(([first]) => first === 5461)![2];
      assert.deepEqual(owner.slice(0, 2), [respOf(c).host, respOf(c).port]);
    } finally {
      client.disconnect();
    }
  });
});
