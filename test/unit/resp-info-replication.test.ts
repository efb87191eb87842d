/**
 * INFO replication (src/resp/commands-info.ts) at a node that replicates shards of several leaders
 * names the master CLUSTER NODES names (a leader all of whose shards it replicates: commands-cluster.ts
 * masterOf), with the offset of that master's shard, not its first shard's leader; and it says
 * what this node's last peer check found: `master_link_status:down` (with Redis's
 * `master_link_down_since_seconds:-1`) while that master does not answer, and a master's
 * `connected_slaves` without the replicas that do not answer. Before, the link was always `up`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateConfig } from '../../src/config/validate-config.js';
import { info } from '../../src/resp/commands-info.js';
import type { RespConnection } from '../../src/resp/resp-connection.js';
import { ErrorCounts } from '../../src/resp/resp-metrics.js';
import { ShardMap } from '../../src/routing/shard-map.js';
import { ConnectionLimit } from '../../src/server/connection-limit.js';
import { fakeNodeConnection, takeReply } from '../helpers/fake-resp-connection.js';

const A = '127.0.0.1:7001';
const B = '127.0.0.1:7002';
const C = '127.0.0.1:7003';
// C replicates shard-0 of A (not shard-1, which A also leads) and shard-2 of B.
const config = validateConfig(
  {
    shards: [
      { name: 'shard-0', idx: 0, address: A, replicas: [C], slots: '0-5460' },
      { name: 'shard-1', idx: 1, address: A, slots: '5461-10922' },
      { name: 'shard-2', idx: 2, address: B, replicas: [C], slots: '10923-16383' },
    ],
  },
  '<test>',
);
const shardMap = new ShardMap(config.shards);

/** replication runs INFO replication at node `me`, which sees `down` unreachable, and returns its lines. */
async function replication(me: string, down: string[]): Promise<string[]> {
  const remote = (address: string) => ({ local: false, address }) as const;
  const targets = shardMap.shards.map((s) => remote(s.address));
  const c: RespConnection = fakeNodeConnection(
    config,
    shardMap,
    { address: me, port: 7001, reads: targets, writes: targets },
    {
      downNodes: () => new Set(down),
      // C's replica stores: of shard-0 (index 0, at seq 7) and of shard-2 (index 1, at seq 42).
      plan: {
        stores: [
          { index: 0, node: C, role: 'replica', shard: { idx: 0 } },
          { index: 1, node: C, role: 'replica', shard: { idx: 2 } },
        ],
      },
      connections: new ConnectionLimit(100),
      startedAt: Date.now(),
      stats: { commands: 0, connections: 0, blocked: 0, errors: new ErrorCounts() },
      leaderWithoutLease: () => false,
      pool: {
        lastSeq: (index: number) => (index === 1 ? 42 : 7),
        callAll: () => Promise.resolve([{ type: 'stats-result', stores: [] }]),
      },
      expiries: { count: () => Promise.resolve({ expires: 0, avgTtlMs: 0 }) },
    },
  );
  info(c, [Buffer.from('INFO'), Buffer.from('replication')]);
  await new Promise((resolve) => setImmediate(resolve));
  const reply = takeReply(c);
  return reply
    .split('\r\n')
    .slice(2)
    .filter((l) => l !== '');
}

describe('INFO replication', () => {
  it('names the master all of whose slots the node replicates, with that shard offset', async () => {
    assert.deepEqual(await replication(C, []), [
      'role:slave',
      'master_host:127.0.0.1',
      'master_port:8002',
      'master_link_status:up',
      'slave_repl_offset:42',
      'slave_read_only:1',
      'connected_slaves:0',
    ]);
  });

  it('says the link is down while the master does not answer', async () => {
    const lines = await replication(C, [B]);
    assert.ok(lines.includes('master_link_status:down'), lines.join('\n'));
    assert.ok(lines.includes('master_link_down_since_seconds:-1'), lines.join('\n'));
    assert.ok((await replication(C, [A])).includes('master_link_status:up'), 'another node down');
  });

  it("counts a master's replicas that answer only", async () => {
    assert.deepEqual(await replication(B, []), ['role:master', 'connected_slaves:1']);
    assert.deepEqual(await replication(B, [C]), ['role:master', 'connected_slaves:0']);
  });
});
