/**
 * The new RESP commands (docs/resp.md) in cluster mode over two processes: a key owned by the
 * other node gets `-MOVED slot host:port` from each of them, redis-cli -c follows it, and ioredis's
 * cluster client runs what a session store, a job lock and a rate limiter send (SETEX, GETEX,
 * SETNX, GETDEL, INCR with EXPIRE, MSETNX with hash tags, KEYS on every master).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Cluster } from 'ioredis';
import { defaultSlotRange } from '../../src/config/validate-config.js';
import { slotOf } from '../../src/routing/slot.js';
import { TestCluster } from '../helpers/cluster.js';
import { freeNodeAddress, redisCli, respOf } from '../helpers/resp.js';
import { tempDir } from '../helpers/temp-dir.js';

let nodes: string[] = [];
let cluster: TestCluster;

/** ownerOf is the node owning `key`'s slot (shard i on nodes[i], two shards). */
function ownerOf(key: string): string {
  const slot = slotOf(key);
  return nodes[defaultSlotRange(0, 2).last >= slot ? 0 : 1]!;
}

before(async () => {
  nodes = [await freeNodeAddress(), await freeNodeAddress()];
  cluster = await TestCluster.start({ dir, shards: nodes.map((address) => ({ address })) });
});

after(async () => {
  await cluster.stop();
});

// Created here, not in before(): registered after the stop hook, so the servers stop first.
const dir = tempDir(after);

describe('the new RESP commands in cluster mode over two processes', () => {
  it('answers -MOVED for a key the other node owns, for each new command on a key, and redis-cli -c follows it', async () => {
    const key = Array.from({ length: 100 }, (_, i) => `moved-${i}`).find((k) => ownerOf(k) === nodes[1])!;
    const owner = respOf(nodes[1]!);
    const moved = `MOVED ${slotOf(key)} ${owner.host}:${owner.port}`;
    // A node whose first peer check ran before the other listened counts it unreachable and
    // answers -CLUSTERDOWN until it answers again (asked at once then: docs/resp.md): wait for that.
    const deadline = Date.now() + 10000;
    while ((await redisCli(nodes[0]!, ['GET', key])).startsWith('CLUSTERDOWN') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    const commands = [
      ['SETNX', key, 'v'],
      ['SETEX', key, '100', 'v'],
      ['PSETEX', key, '100000', 'v'],
      ['GETSET', key, 'v'],
      ['GETDEL', key],
      ['GETEX', key, 'PERSIST'],
      ['MSETNX', key, 'v'],
      ['APPEND', key, 'v'],
      ['SETRANGE', key, '0', 'v'],
      ['GETRANGE', key, '0', '-1'],
      ['SUBSTR', key, '0', '-1'],
      ['INCRBYFLOAT', key, '1'],
      ['UNLINK', key],
      ['TOUCH', key],
      ['EXPIREAT', key, '1'],
      ['PEXPIREAT', key, '1'],
      ['EXPIRETIME', key],
      ['PEXPIRETIME', key],
    ];
    for (const args of commands)
      assert.equal((await redisCli(nodes[0]!, args)).trim(), moved, args.join(' '));
    assert.equal(await redisCli(nodes[0]!, ['APPEND', key, 'abc'], ['-c']), '3\n');
    assert.equal(await redisCli(nodes[0]!, ['GETDEL', key], ['-c']), 'abc\n');
  });

  it('serves a session store, a job lock and a rate limiter through ioredis cluster', async () => {
    const client = new Cluster([{ host: respOf(nodes[0]!).host, port: respOf(nodes[0]!).port }], {
      redisOptions: { maxRetriesPerRequest: 3 },
      slotsRefreshTimeout: 5000,
    });
    try {
      const sessions = Array.from({ length: 20 }, (_, i) => `sess:${i}`);
      for (const s of sessions) assert.equal(await client.setex(s, 600, `data-${s}`), 'OK');
      for (const s of sessions) {
        assert.equal(await client.getex(s, 'EX', 1200), `data-${s}`);
        assert.ok((await client.ttl(s)) > 600);
      }
      assert.equal(await client.setnx('job:lock', 'worker-1'), 1);
      assert.equal(await client.setnx('job:lock', 'worker-2'), 0);
      assert.equal(await client.getdel('job:lock'), 'worker-1');
      for (let i = 1; i <= 5; i++) {
        assert.equal(await client.incr('rate:user1'), i);
        if (i === 1) assert.equal(await client.expire('rate:user1', 60), 1);
      }
      assert.ok((await client.ttl('rate:user1')) > 0, 'INCR kept the window');
      assert.equal(await client.msetnx('{acct}:a', '1', '{acct}:b', '2'), 1);
      assert.equal(await client.msetnx('{acct}:b', '3', '{acct}:c', '4'), 0);
      assert.equal(await client.incrbyfloat('{acct}:a', '0.25'), '1.25');
      const masters = client.nodes('master');
      const listed = (await Promise.all(masters.map((m) => m.keys('sess:*')))).flat().sort();
      assert.deepEqual(listed, [...sessions].sort());
    } finally {
      client.disconnect();
    }
  });
});
