/**
 * A key whose shard's leader did not answer this node's last peer check (src/resp/key-route.ts):
 * `-CLUSTERDOWN Hash slot not served`, as Redis answers a slot no reachable node serves, not a
 * `-MOVED` to the node that does not answer (which sent ioredis there until it gave up with
 * "Too many Cluster redirections. Last error: Connection is closed."). A reachable owner still gets
 * `-MOVED`. The peer check is asked about the unreachable owner at once (`checkPeerSoon`).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateConfig } from '../../src/config/validate-config.js';
import { routeKey } from '../../src/resp/key-route.js';
import type { Target } from '../../src/server/node-plan.js';
import { ShardMap } from '../../src/routing/shard-map.js';
import { slotOfBytes } from '../../src/routing/slot.js';
import { fakeConnection, takeReply } from '../helpers/fake-resp-connection.js';

const A = '127.0.0.1:7001';
const B = '127.0.0.1:7002';
const config = validateConfig({ shards: [{ name: 'shard-0', idx: 0, address: B, replicas: [A] }] }, '<test>');
const remote: Target = { local: false, address: B };

/**
 * replyAtA routes key `k` at node A (a replica of B's shard) while A sees `down` unreachable; the
 * peers it asks the peer check about at once go into `asked`.
 */
function replyAtA(down: string[], write: boolean, readonly = false, asked: string[] = []): string {
  const c = fakeConnection({
    readonly,
    ctx: {
      config,
      shardMap: new ShardMap(config.shards),
      listener: { address: A, port: 7001, reads: [remote], writes: [remote] },
      downNodes: () => new Set(down),
      checkPeerSoon: (address: string) => asked.push(address),
      leaderWithoutLease: () => false,
    },
  });
  assert.equal(routeKey(c, Buffer.from('k'), write), undefined, 'not executed here');
  return takeReply(c);
}

describe('RESP for a key whose owner is unreachable', () => {
  const slot = slotOfBytes(Buffer.from('k'));

  it('answers -CLUSTERDOWN, not -MOVED to the node that does not answer', () => {
    for (const write of [true, false])
      assert.equal(
        replyAtA([B], write),
        '-CLUSTERDOWN Hash slot not served: its owner 127.0.0.1:8002 is unreachable\r\n',
      );
  });

  it('asks the peer check about the unreachable owner at once, so that it is served again as soon as it is back', () => {
    const asked: string[] = [];
    replyAtA([B], false, false, asked);
    replyAtA([B], true, false, asked);
    assert.deepEqual(asked, [B, B]);
    replyAtA([], true, false, asked);
    assert.deepEqual(asked, [B, B], 'an owner that answers is not asked early');
  });

  it('answers -MOVED while the owner answers', () => {
    assert.equal(replyAtA([], true), `-MOVED ${slot} 127.0.0.1:8002\r\n`);
    assert.equal(replyAtA(['127.0.0.1:7003'], false), `-MOVED ${slot} 127.0.0.1:8002\r\n`);
  });
});
