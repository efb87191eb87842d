/**
 * The cluster commands of a node whose peer is down, over two `distkv serve --node` processes that
 * each lead one shard and replicate the other's: once the peer check finds the peer unreachable,
 * CLUSTER NODES flags it `fail`, CLUSTER INFO counts its slots in `cluster_slots_fail` (with
 * `cluster_state:ok`, which ioredis checks before it is ready), CLUSTER SLOTS leaves it out with its
 * slots, as Redis leaves out slots no node serves (it leads a shard, so it is never named a replica;
 * a down replica-only node is left out too: test/unit/resp-cluster-down.test.ts), a new ioredis
 * cluster client reads and writes the slots of the node that is up and gets the Redis error
 * `CLUSTERDOWN` for the others (not a connection error from the node that is down), and
 * `redis-cli -c` prints it. Once the peer is back, every command says healthy again and the same
 * ioredis client writes the peer's slots again, by itself.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster } from 'ioredis';
import { defaultSlotRange } from '../../src/config/validate-config.js';
import { slotOf } from '../../src/routing/slot.js';
import { nodeIdOf } from '../../src/resp/resp-address.js';
import { mutualLayout, TestCluster } from '../helpers/cluster.js';
import { freeNodeAddress, redisCli, respOf } from '../helpers/resp.js';
import { tempDir } from '../helpers/temp-dir.js';

let cluster: TestCluster;
let A = '';
let B = '';
/** client is the ioredis cluster client made while B is down, kept for B's return. */
let client: Cluster | undefined;
/** downKey is a key of B's slots. */
const downKey = Array.from({ length: 200 }, (_, i) => `down-${i}`).find(
  (k) => slotOf(k) >= defaultSlotRange(1, 2).first,
)!;

before(async () => {
  A = await freeNodeAddress();
  B = await freeNodeAddress();
  cluster = await TestCluster.start({ dir, shards: mutualLayout(A, B) });
});

after(async () => {
  client?.disconnect();
  await cluster.stop();
});

const dir = tempDir(after);

/** waitFor asks node A `args` until `done` holds for the answer (at most 15 s, beyond the 2 s peer check). */
async function waitFor(args: string[], done: (text: string) => boolean): Promise<string> {
  const deadline = Date.now() + 15000;
  for (;;) {
    const text = await redisCli(A, args);
    if (done(text) || Date.now() > deadline) return text;
    await sleep(200);
  }
}

describe('RESP cluster commands with a node down', () => {
  it(
    'flags the down node fail, counts its slots failed, and a new ioredis client serves the other slots',
    { timeout: 60000 },
    async () => {
      assert.match(await redisCli(A, ['CLUSTER', 'INFO']), /cluster_state:ok/);
      await cluster.kill(B);
      const nodes = await waitFor(['CLUSTER', 'NODES'], (t) => t.includes('master,fail'));
      const line = nodes.split('\n').find((l) => l.startsWith(nodeIdOf(B)))!;
      // Its config epoch is its shard's epoch in the live map: 0, no failover yet (src/resp/cluster-figures.ts).
      assert.match(line, / master,fail - 0 0 0 disconnected \d+-16383$/);
      const info = await redisCli(A, ['CLUSTER', 'INFO']);
      assert.match(info, /cluster_state:ok/, 'ioredis would not become ready on cluster_state:fail');
      assert.match(info, new RegExp(`cluster_slots_fail:${16384 - defaultSlotRange(1, 2).first}`));
      const slots = (await redisCli(A, ['CLUSTER', 'SLOTS'])).trim().split('\n');
      assert.equal(
        slots.filter((l) => l === String(respOf(B).port)).length,
        0,
        "B's slots are left out, as Redis leaves out slots no node serves",
      );
      assert.match(await redisCli(A, ['CLUSTER', 'SHARDS']), /failed/);

      const key = Array.from({ length: 200 }, (_, i) => `up-${i}`).find(
        (k) => slotOf(k) <= defaultSlotRange(0, 2).last,
      )!;
      client = new Cluster([respOf(A)], {
        redisOptions: { maxRetriesPerRequest: 1 },
        slotsRefreshTimeout: 3000,
      });
      client.on('error', () => undefined);
      assert.equal(await client.set(key, 'v'), 'OK');
      assert.equal(await client.get(key), 'v');
      // ioredis retries CLUSTERDOWN (refreshing its slots) and then gives up with it as the last
      // error; a -MOVED to B had it end on B's refused connection ("Connection is closed.").
      await assert.rejects(
        client.set(downKey, 'v'),
        /Last error: ReplyError: CLUSTERDOWN Hash slot not served/,
      );
      assert.match(
        await redisCli(A, ['SET', downKey, 'v'], ['-c']),
        /^CLUSTERDOWN Hash slot not served: its owner .* is unreachable/m,
      );
    },
  );

  // Above the harness's own cap on the restart (TestCluster.startNode's 30 s budget, up to
  // STARVED_CAP times that in wall time on a machine starved of CPU, server-process.ts), so a slow
  // start fails there, with the node's log, not here as a bare timeout.
  it('says healthy again once the node answers', { timeout: 240000 }, async () => {
    await cluster.startNode(B);
    const info = await waitFor(['CLUSTER', 'INFO'], (t) => t.includes('cluster_slots_fail:0'));
    assert.match(info, /cluster_slots_fail:0/);
    assert.doesNotMatch(await redisCli(A, ['CLUSTER', 'NODES']), /fail/);
    assert.equal(
      (await redisCli(A, ['CLUSTER', 'SLOTS']))
        .trim()
        .split('\n')
        .filter((l) => l === String(respOf(B).port)).length,
      1,
      'B as the leader of its slots only: a node that leads shards is never named a replica',
    );
    assert.ok(client !== undefined, 'the client of the test before');
    const deadline = Date.now() + 15000;
    for (;;) {
      try {
        assert.equal(await client.set(downKey, 'back'), 'OK');
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
      }
    }
    assert.equal(await client.get(downKey), 'back');
  });
});
