/**
 * INFO replication's `connected_slaves` at a master (src/resp/commands-info.ts, replica-links.ts)
 * counts the replicas that follow it, not every replica that answers the peer check: a replica in
 * another process whose pulls stopped (refused for a wrong token, say, while its node answers its
 * checks) is not connected, by its leader store's word on its last pull; a replica in this process
 * by its published follower state. It counted both as connected, for good.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
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
const R1 = '127.0.0.1:7002';
const R2 = '127.0.0.1:7003';
// A leads both shards; R1 replicates both, R2 shard-1 only.
const config = validateConfig(
  {
    shards: [
      { name: 'shard-0', idx: 0, address: A, replicas: [R1], slots: '0-8191' },
      { name: 'shard-1', idx: 1, address: A, replicas: [R1, R2], slots: '8192-16383' },
    ],
  },
  '<test>',
);
const shardMap = new ShardMap(config.shards);
const PULL_WAIT_MS = config.replication.pull_wait_ms;
// The stores' routes do not matter to the replication section.
const targets = shardMap.shards.map((s) => ({ local: false, address: s.address }) as const);

/** Setup is what node A knows: each remote replica's last pull per leader store, and its local replica stores' states. */
interface Setup {
  /** seen[store][replica] is lastSeenMsAgo in leader store `store`'s stats (absent: never pulled). */
  seen: Record<number, Record<string, number>>;
  /** local: R1's replica stores in A's process (indexes 2 and 3), with their follower states. */
  local?: [FollowerState, FollowerState];
  down?: string[];
}

/** slaves runs INFO replication at A and returns its connected_slaves. */
async function slaves(s: Setup): Promise<number> {
  const p = new Positions(new SharedArrayBuffer(Positions.bytesFor(4)));
  s.local?.forEach((state, i) => {
    p.set(2 + i, SLOT_STATE, FOLLOWER_STATES.indexOf(state));
    p.set(2 + i, SLOT_CONTACT_AT, Date.now() - 100);
  });
  const stores = [
    { index: 0, node: A, role: 'leader', shard: { idx: 0 } },
    { index: 1, node: A, role: 'leader', shard: { idx: 1 } },
    ...(s.local === undefined
      ? []
      : [
          { index: 2, node: R1, role: 'replica', shard: { idx: 0 } },
          { index: 3, node: R1, role: 'replica', shard: { idx: 1 } },
        ]),
  ];
  const stats = [0, 1].map((index) => ({
    index,
    stats: {
      keys: 0,
      replicas: Object.entries(s.seen[index] ?? {}).map(([replica, lastSeenMsAgo]) => ({
        replica,
        ack: 1,
        lastSeenMsAgo,
      })),
    },
  }));
  const c: RespConnection = fakeNodeConnection(
    config,
    shardMap,
    { address: A, port: 7001, reads: targets, writes: targets },
    {
      ...infoContext(),
      downNodes: () => new Set(s.down ?? []),
      plan: { stores },
      pool: {
        lastSeq: () => 1,
        positions: p,
        callAll: () => Promise.resolve([{ type: 'stats-result', stores: stats }]),
      },
    },
  );
  const reply = await infoReply(c, 'replication');
  assert.match(reply, /role:master/, reply);
  return Number(/connected_slaves:(\d+)/.exec(reply)?.[1]);
}

describe('INFO replication connected_slaves', () => {
  it('counts the remote replicas that pulled within a long poll and its grace', async () => {
    const fresh = { 0: { [R1]: 300 }, 1: { [R1]: 300, [R2]: PULL_WAIT_MS } };
    assert.equal(await slaves({ seen: fresh }), 2);
    assert.equal(await slaves({ seen: fresh, down: [R2] }), 1, 'the peer check still counts');
  });

  it('leaves out a remote replica whose pulls stopped though its node answers the peer check', async () => {
    assert.equal(await slaves({ seen: { 0: { [R1]: 300 }, 1: { [R1]: 300, [R2]: 60_000 } } }), 1);
    assert.equal(await slaves({ seen: { 0: { [R1]: 300 }, 1: { [R1]: 300 } } }), 1, 'R2 never pulled');
    assert.equal(
      await slaves({ seen: { 0: { [R1]: 60_000 }, 1: { [R1]: 300, [R2]: 300 } } }),
      1,
      'R1 follows shard-1 but not shard-0',
    );
  });

  it('counts a replica in this process by its follower state, whatever its last ack says', async () => {
    // A ring replica acks only when it applies: an idle shard's ack is old and says nothing.
    const seen = { 0: { [R1]: 60_000 }, 1: { [R1]: 60_000, [R2]: 300 } };
    assert.equal(await slaves({ seen, local: ['streaming', 'streaming'] }), 2);
    assert.equal(await slaves({ seen, local: ['streaming', 'resyncing'] }), 1);
    assert.equal(await slaves({ seen, local: ['disconnected', 'streaming'] }), 1);
  });
});
