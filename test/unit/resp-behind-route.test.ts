/**
 * A RESP command on a shard whose leader here started behind its replica (src/resp/key-route.ts):
 * `-ERR` with the LEADER_BEHIND advice while a person must promote the replica, and `-TRYAGAIN`
 * once the coordinator gave up the shard's leader key for the replica to take over by itself
 * (src/coordination/behind-resign.ts), so cluster clients retry as they do during a failover.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateConfig } from '../../src/config/validate-config.js';
import { DistkvError } from '../../src/errors.js';
import { type LocalTarget, routeKey } from '../../src/resp/key-route.js';
import { ShardMap } from '../../src/routing/shard-map.js';
import { fakeConnection, takeReply } from '../helpers/fake-resp-connection.js';

const A = '127.0.0.1:7001';
const config = validateConfig({ shards: [{ name: 'shard-0', idx: 0, address: A }] }, '<test>');
const leader: LocalTarget = { local: true, worker: 0, store: 0, role: 'leader', leaderStore: 0 };

/** replyTo routes a write of key `k` at node A, whose shard-0 leader is refused with `behind`. */
function replyTo(behind: DistkvError): string {
  const c = fakeConnection({
    readonly: false,
    ctx: {
      config,
      shardMap: new ShardMap(config.shards),
      listener: { address: A, port: 7001, reads: [leader], writes: [leader] },
      behindError: () => behind,
      leaderWithoutLease: () => false,
    },
  });
  assert.equal(routeKey(c, Buffer.from('k'), true), undefined, 'not executed');
  return takeReply(c);
}

describe('RESP at a leader held behind its replica', () => {
  it('answers -ERR with the advice while the key is kept', () => {
    const reply = replyTo(new DistkvError('LEADER_BEHIND', 'run distkv failover'));
    assert.equal(reply, '-ERR run distkv failover\r\n');
  });

  it('answers -TRYAGAIN once the leader key was given up for the replica', () => {
    const reply = replyTo(new DistkvError('SWITCHING_LEADER', 'the replica takes the shard over'));
    assert.equal(reply, '-TRYAGAIN the replica takes the shard over\r\n');
  });
});
