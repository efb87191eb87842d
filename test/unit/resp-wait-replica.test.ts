/**
 * WAIT at a node that leads no shard (src/resp/commands-wait.ts). A node that only replicates is a
 * replica in CLUSTER NODES and INFO, and no write can be made there: it answers redis-server 7.0's
 * error for WAIT on a replica, before it reads the arguments, as Redis does. It answered `:0`, which
 * reads as "no replica holds your writes". A node that leads nothing and replicates nothing (a
 * master without slots) still answers 0 at once, as a Redis master without replicas does.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateConfig } from '../../src/config/validate-config.js';
import { ON_REPLICA, wait } from '../../src/resp/commands-wait.js';
import { ShardMap } from '../../src/routing/shard-map.js';
import { fakeNodeConnection, takeReply } from '../helpers/fake-resp-connection.js';

const A = '127.0.0.1:7001';
const R = '127.0.0.1:7002';
const SPARE = '127.0.0.1:7003';
const config = validateConfig(
  {
    shards: [
      { name: 'shard-0', idx: 0, address: A, replicas: [R], slots: '0-8191' },
      { name: 'shard-1', idx: 1, address: SPARE, slots: '8192-16383' },
    ],
  },
  '<test>',
);
const shardMap = new ShardMap(config.shards);
// No store of either shard is in this process: a node that leads here has nothing to wait for.
const remote = shardMap.shards.map((s) => ({ local: false, address: s.address }) as const);

/** waitAt runs WAIT with `args` at the node `address` (serving no store here) and returns its reply. */
function waitAt(address: string, args: string[], liveShards = shardMap.shards): string {
  const c = fakeNodeConnection(
    config,
    shardMap,
    { address, port: 7000, reads: remote, writes: remote },
    {
      liveShards: () => liveShards,
      plan: { stores: [] },
      pool: { lastSeq: () => 0 },
      stats: { blocked: 0 },
    },
  );
  Object.assign(c, { lastWrites: new Map(), hungUp: false });
  wait(
    c,
    ['WAIT', ...args].map((a) => Buffer.from(a)),
  );
  return takeReply(c);
}

describe('WAIT at a node that leads no shard', () => {
  it("answers Redis's replica error, before reading the arguments", () => {
    assert.equal(waitAt(R, ['0', '0']), `-${ON_REPLICA}\r\n`);
    assert.equal(waitAt(R, ['1', '100']), `-${ON_REPLICA}\r\n`);
    assert.equal(waitAt(R, ['x', 'y']), `-${ON_REPLICA}\r\n`, 'as redis-server: the role is checked first');
    assert.match(ON_REPLICA, /^ERR WAIT cannot be used with replica instances\. /);
  });

  it('waits as a master once a failover makes the replica lead', () => {
    const promoted = shardMap.shards.map((s) => (s.idx === 0 ? { ...s, address: R, replicas: [A] } : s));
    assert.equal(waitAt(R, ['1', '100'], promoted), ':0\r\n', 'no store served here: nothing to wait for');
    assert.equal(
      waitAt(A, ['0', '0'], promoted),
      `-${ON_REPLICA}\r\n`,
      'the demoted leader is the replica now',
    );
  });

  it('answers 0 at a node that leads nothing and replicates nothing (a master without slots)', () => {
    const moved = shardMap.shards.map((s) => (s.idx === 1 ? { ...s, address: A } : s));
    assert.equal(waitAt(SPARE, ['0', '0'], moved), ':0\r\n');
    assert.equal(waitAt(SPARE, ['x', '0'], moved), '-ERR value is not an integer or out of range\r\n');
  });
});
