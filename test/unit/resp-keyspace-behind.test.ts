/**
 * DBSIZE, SCAN, KEYS and RANDOMKEY at a node whose leader store started behind its replica (an
 * empty or older store: src/server/behind-leaders.ts). Such a leader serves nothing of its shard
 * until a failover, and a key read there answers -ERR with LEADER_BEHIND's message (key-route.ts).
 * Its writes are held too, so these commands took it for a failover's hold and answered -TRYAGAIN
 * "shard 0's leader is being switched ... retry shortly": a cluster client retried a switch that
 * never comes, and the reply named neither the replica nor the failover to run. Now they answer
 * -ERR naming the command, the replica and the failover.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateConfig } from '../../src/config/validate-config.js';
import { keys } from '../../src/resp/commands-keys.js';
import { dbsize, scan } from '../../src/resp/commands-keyspace.js';
import type { LocalTarget } from '../../src/resp/key-route.js';
import { randomkey } from '../../src/resp/random-key.js';
import { ScanCursors } from '../../src/resp/scan-cursors.js';
import type { RespConnection } from '../../src/resp/resp-connection.js';
import { DistkvError } from '../../src/errors.js';
import { ShardMap } from '../../src/routing/shard-map.js';
import { fakeNodeConnection, takeReply } from '../helpers/fake-resp-connection.js';

const A = '127.0.0.1:7001';
const config = validateConfig(
  {
    shards: [
      { name: 'shard-0', idx: 0, address: A, slots: '0-999', replicas: ['127.0.0.1:7002'] },
      { name: 'shard-1', idx: 1, address: A, slots: '1000-16383', replicas: ['127.0.0.1:7002'] },
    ],
  },
  '<test>',
);
const BEHIND =
  "shard 0's leader here started on an empty store, but its replica 127.0.0.1:7002 holds records through seq 9";

/**
 * nodeA is a connection to node A, leader of both shards, whose shard-0 leader is held behind its
 * replica and refused with `behind` (SWITCHING_LEADER once it gave up its leader key in etcd).
 */
function nodeA(behind = new DistkvError('LEADER_BEHIND', BEHIND)): RespConnection {
  const target = (s: number): LocalTarget => ({
    local: true,
    worker: 0,
    store: s,
    role: 'leader',
    leaderStore: s,
  });
  const targets = [target(0), target(1)];
  const shardMap = new ShardMap(config.shards);
  return fakeNodeConnection(
    config,
    shardMap,
    { address: A, port: 7001, reads: targets, writes: targets },
    {
      plan: { stores: [{ node: A }, { node: A }] },
      cursors: new ScanCursors(),
      leaderWithoutLease: () => false,
      // Held behind, its writes are fenced: readsHeld is true for it as for a failover's hold.
      readsHeld: (role: string, idx: number) => role === 'leader' && idx === 0,
      behindError: (idx: number) => (idx === 0 ? behind : undefined),
    },
  );
}

/** replyOf runs `run` on a fresh connection (to `nodeA(behind)`) and returns its first reply line. */
async function replyOf(run: (c: RespConnection) => void, behind?: DistkvError): Promise<string> {
  const c = nodeA(behind);
  run(c);
  await new Promise((resolve) => setImmediate(resolve));
  return takeReply(c).split('\r\n')[0]!;
}

describe('keyspace commands at a node whose leader is held behind its replica', () => {
  const CASES: [string, (c: RespConnection) => void][] = [
    [
      'DBSIZE',
      (c) => {
        dbsize(c);
      },
    ],
    [
      'SCAN',
      (c) => {
        scan(c, [Buffer.from('SCAN'), Buffer.from('0')]);
      },
    ],
    [
      'KEYS',
      (c) => {
        keys(c, [Buffer.from('KEYS'), Buffer.from('*')]);
      },
    ],
    [
      'RANDOMKEY',
      (c) => {
        randomkey(c);
      },
    ],
  ];
  for (const [name, run] of CASES)
    it(`${name} answers -ERR naming the replica, not -TRYAGAIN for a switch that never comes`, async () => {
      const reply = await replyOf(run);
      assert.equal(reply, `-ERR ${name}: ${BEHIND}`);
    });
  const HANDING = 'the most advanced replica takes the shard over; retry shortly';
  for (const [name, run] of CASES)
    it(`${name} answers -TRYAGAIN once the leader gave up its key for the replica`, async () => {
      const reply = await replyOf(run, new DistkvError('SWITCHING_LEADER', HANDING));
      assert.equal(reply, `-TRYAGAIN ${name}: ${HANDING}`);
    });
});
