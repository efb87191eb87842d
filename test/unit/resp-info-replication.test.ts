/**
 * INFO replication (src/resp/commands-info.ts) at a node that replicates shards of several leaders
 * names the master CLUSTER NODES names (a leader all of whose shards it replicates: commands-cluster.ts
 * masterOf), with the offset of that master's shard, not its first shard's leader; and it says
 * what this node's last peer check found: `master_link_status:down` (with Redis's
 * `master_link_down_since_seconds:-1`) while that master does not answer, and a master's
 * `connected_slaves` without the replicas that do not answer. Before, the link was always `up`.
 * The link is down too while one of the node's replica stores of that master does not follow it
 * (its pulls refused, say for a wrong token, while the master answers its peer checks), since its
 * last contact with it: it said `up` then, over a replica whose data went stale.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { validateConfig } from '../../src/config/validate-config.js';
import type { RespConnection } from '../../src/resp/resp-connection.js';
import {
  FOLLOWER_STATES,
  type FollowerState,
  Positions,
  SLOT_CONTACT_AT,
  SLOT_STATE,
} from '../../src/replication/positions.js';
import { ShardMap } from '../../src/routing/shard-map.js';
import { fakeNodeConnection, infoContext, infoReply } from '../helpers/fake-resp-connection.js';

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

/** Follow is a replica store's follower as its worker publishes it: its state and when its leader last answered. */
interface Follow {
  state: FollowerState;
  contactMsAgo?: number;
}

const STREAMING: Follow = { state: 'streaming', contactMsAgo: 100 };

/** positionsOf publishes `follow[i]` as replica store i's state and last contact. */
function positionsOf(follow: readonly Follow[]): Positions {
  const p = new Positions(new SharedArrayBuffer(Positions.bytesFor(follow.length)));
  follow.forEach((f, i) => {
    p.set(i, SLOT_STATE, FOLLOWER_STATES.indexOf(f.state));
    if (f.contactMsAgo !== undefined) p.set(i, SLOT_CONTACT_AT, Date.now() - f.contactMsAgo);
  });
  return p;
}

/**
 * replication runs INFO replication at node `me`, which sees `down` unreachable and whose replica
 * stores of shard-0 and shard-2 follow as `follow` says, and returns its lines.
 */
async function replication(me: string, down: string[], follow = [STREAMING, STREAMING]): Promise<string[]> {
  const remote = (address: string) => ({ local: false, address }) as const;
  const targets = shardMap.shards.map((s) => remote(s.address));
  const c: RespConnection = fakeNodeConnection(
    config,
    shardMap,
    { address: me, port: 7001, reads: targets, writes: targets },
    {
      ...infoContext(),
      downNodes: () => new Set(down),
      // C's replica stores: of shard-0 (index 0, at seq 7) and of shard-2 (index 1, at seq 42).
      plan: {
        stores: [
          { index: 0, node: C, role: 'replica', shard: { idx: 0 } },
          { index: 1, node: C, role: 'replica', shard: { idx: 2 } },
        ],
      },
      pool: {
        lastSeq: (index: number) => (index === 1 ? 42 : 7),
        positions: positionsOf(follow),
        callAll: () => Promise.resolve([{ type: 'stats-result', stores: [] }]),
      },
    },
  );
  const reply = await infoReply(c, 'replication');
  return reply
    .split('\r\n')
    .slice(2)
    .filter((l) => l !== '');
}

describe('INFO replication', () => {
  // Date stands still in each test: a contact time is set at Date.now() - N ms and INFO reads it
  // against its own Date.now(); a process starved between the two (CI) turned 1.2 s into lag=2.
  beforeEach(() => {
    mock.timers.enable({ apis: ['Date'], now: Date.now() });
  });
  afterEach(() => {
    mock.timers.reset();
  });

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

  it('says the link is down while the replica store of that master does not follow it, since its last contact', async () => {
    const refused = await replication(C, [], [STREAMING, { state: 'disconnected', contactMsAgo: 15_400 }]);
    assert.ok(refused.includes('master_link_status:down'), refused.join('\n'));
    assert.ok(refused.includes('master_link_down_since_seconds:15'), refused.join('\n'));
    const other = await replication(C, [], [{ state: 'disconnected', contactMsAgo: 15_400 }, STREAMING]);
    assert.ok(other.includes('master_link_status:up'), `the other master's store: ${other.join(' ')}`);
    for (const state of ['resyncing', 'starting', 'held'] as const) {
      const lines = await replication(C, [], [STREAMING, { state }]);
      assert.ok(lines.includes('master_link_status:down'), `${state}: ${lines.join(' ')}`);
      assert.ok(
        lines.includes('master_link_down_since_seconds:-1'),
        `${state}, never reached: ${lines.join(' ')}`,
      );
    }
    const silent = await replication(C, [], [STREAMING, { state: 'streaming', contactMsAgo: 60_000 }]);
    assert.ok(
      silent.includes('master_link_status:down'),
      `streaming, but no answer for 60 s: ${silent.join(' ')}`,
    );
    assert.ok(silent.includes('master_link_down_since_seconds:60'), silent.join(' '));
  });

  it("counts a master's replicas that answer only", async () => {
    // B's leader store is not in this process: the peer check decides alone, and nothing is known of offsets.
    assert.deepEqual(await replication(B, []), [
      'role:master',
      'connected_slaves:1',
      'slave0:ip=127.0.0.1,port=8003,state=online,offset=0,lag=0',
      'master_repl_offset:0',
    ]);
    assert.deepEqual(await replication(B, [C]), [
      'role:master',
      'connected_slaves:0',
      'master_repl_offset:0',
    ]);
  });
});
