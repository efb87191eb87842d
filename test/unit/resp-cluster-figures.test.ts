/**
 * The config epochs and replication offsets the cluster commands give (src/resp/cluster-figures.ts).
 * CLUSTER NODES said config epoch 1 for every node, CLUSTER INFO `cluster_current_epoch:1` and
 * `cluster_my_epoch:1`, and CLUSTER SHARDS `replication-offset` 0, whatever failovers and writes
 * had happened. Now a master's config epoch is the highest live-map epoch of the shards it leads,
 * a replica's its master's, the current epoch the highest of any shard; and a node's offset in a
 * SHARDS entry its seqs summed over the entry's shards, as this process knows them: its own stores'
 * seqs, a leader elsewhere by what its replica here last saw, a replica elsewhere by its leader's
 * word on its pulls.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateConfig } from '../../src/config/validate-config.js';
import { cluster } from '../../src/resp/commands-cluster.js';
import { nodeIdOf } from '../../src/resp/resp-address.js';
import { Positions, SLOT_LAST_SEQ, SLOT_LEADER_SEQ } from '../../src/replication/positions.js';
import { ShardMap } from '../../src/routing/shard-map.js';
import { fakeNodeConnection, takeReply } from '../helpers/fake-resp-connection.js';

const A = '127.0.0.1:7001';
const B = '127.0.0.1:7002';
const C = '127.0.0.1:7003';
// A leads shard-0 and shard-1, B shard-2; C replicates all three (CLUSTER NODES names A its master).
const config = validateConfig(
  {
    shards: [
      { name: 'shard-0', idx: 0, address: A, replicas: [C], slots: '0-5460' },
      { name: 'shard-1', idx: 1, address: A, replicas: [C], slots: '5461-10922' },
      { name: 'shard-2', idx: 2, address: B, replicas: [C], slots: '10923-16383' },
    ],
  },
  '<test>',
);
const shardMap = new ShardMap(config.shards);
/** EPOCHS are the shards' live-map epochs: shard-1's leader changed most recently. */
const EPOCHS = new Map([
  [0, 2],
  [1, 5],
  [2, 3],
]);

/**
 * ask runs `CLUSTER sub` at node `me` of a process hosting A's two leader stores (seqs 30 and 12)
 * and C's replica of shard-2 (ack 8, B last answered it with seq 9); A's stores report C's pulls
 * at acks 28 and 12.
 */
async function ask(me: string, sub: string, epochs: ReadonlyMap<number, number> = EPOCHS): Promise<string> {
  const p = new Positions(new SharedArrayBuffer(Positions.bytesFor(3)));
  p.set(0, SLOT_LAST_SEQ, 30);
  p.set(1, SLOT_LAST_SEQ, 12);
  p.set(2, SLOT_LAST_SEQ, 8);
  p.set(2, SLOT_LEADER_SEQ, 9);
  const stats = [
    { index: 0, stats: { replicas: [{ replica: C, ack: 28, lastSeenMsAgo: 100 }] } },
    { index: 1, stats: { replicas: [{ replica: C, ack: 12, lastSeenMsAgo: 100 }] } },
  ];
  const remote = shardMap.shards.map((s) => ({ local: false, address: s.address }) as const);
  const c = fakeNodeConnection(
    config,
    shardMap,
    { address: me, port: 7000, reads: remote, writes: remote },
    {
      liveEpochs: () => epochs,
      plan: {
        stores: [
          { index: 0, node: A, role: 'leader', shard: { idx: 0 } },
          { index: 1, node: A, role: 'leader', shard: { idx: 1 } },
          { index: 2, node: C, role: 'replica', shard: { idx: 2 } },
        ],
      },
      pool: {
        lastSeq: (i: number) => p.get(i, SLOT_LAST_SEQ),
        positions: p,
        size: 1,
        call: () => Promise.resolve({ type: 'stats-result', stores: stats }),
        callAll: () => Promise.resolve([{ type: 'stats-result', stores: stats }]),
      },
    },
  );
  cluster(c, [Buffer.from('CLUSTER'), Buffer.from(sub)]);
  await new Promise((resolve) => setImmediate(resolve));
  return takeReply(c);
}

/** epochs maps each node of CLUSTER NODES to its config-epoch field. */
async function epochs(me: string, live?: ReadonlyMap<number, number>): Promise<Map<string, string>> {
  const byId = new Map([A, B, C].map((a) => [nodeIdOf(a), a]));
  const text = await ask(me, 'NODES', live);
  return new Map(
    text
      .split('\r\n')[1]!
      .trim()
      .split('\n')
      .map((l) => l.split(' '))
      .map((f) => [byId.get(f[0]!)!, f[6]!]),
  );
}

describe('CLUSTER NODES and INFO config epochs', () => {
  it("gives a master the highest epoch of its shards and a replica its master's", async () => {
    for (const me of [A, B, C])
      assert.deepEqual(Object.fromEntries(await epochs(me)), { [A]: '5', [B]: '3', [C]: '5' }, `at ${me}`);
  });

  it("says the highest epoch as cluster_current_epoch and the node's own (a replica's master's) as cluster_my_epoch", async () => {
    const info = async (me: string): Promise<string[]> =>
      (await ask(me, 'INFO')).split('\r\n').filter((l) => /^cluster_(current|my)_epoch:/.test(l));
    assert.deepEqual(await info(A), ['cluster_current_epoch:5', 'cluster_my_epoch:5']);
    assert.deepEqual(await info(B), ['cluster_current_epoch:5', 'cluster_my_epoch:3']);
    assert.deepEqual(await info(C), ['cluster_current_epoch:5', 'cluster_my_epoch:5']);
  });

  it('says 0 for a cluster that never changed a leader (the first map)', async () => {
    assert.deepEqual(Object.fromEntries(await epochs(A, new Map())), { [A]: '0', [B]: '0', [C]: '0' });
  });
});

describe('CLUSTER SHARDS replication offsets', () => {
  it("sums each node's seqs over its entry's shards, as known in this process", async () => {
    const reply = await ask(A, 'SHARDS');
    const offsets = [...reply.matchAll(/\$18\r\nreplication-offset\r\n:(\d+)\r\n/g)].map((m) => Number(m[1]));
    // Entry A (shard-0, shard-1): A 30 + 12, C 28 + 12 by A's stores' word on its pulls.
    // Entry B (shard-2): B as C's replica here last heard it, C its own store's ack.
    assert.deepEqual(offsets, [42, 40, 9, 8]);
  });
});
