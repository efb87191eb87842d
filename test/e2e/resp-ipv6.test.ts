/**
 * RESP cluster mode on IPv6 (two `distkv serve --node` processes on [::1]): `-MOVED` and CLUSTER
 * NODES write a node as Redis does, "::1:port" with no brackets (cluster clients split the
 * address at its last colon: a bracketed "[::1]" is no host they can connect to), CLUSTER SLOTS
 * and SHARDS give the bare ip; redis-cli -c follows the MOVED and ioredis's cluster client routes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Cluster } from 'ioredis';
import { defaultSlotRange } from '../../src/config/validate-config.js';
import { slotOf } from '../../src/routing/slot.js';
import { TestCluster } from '../helpers/cluster.js';
import { freeNodeAddress, RESP_OFFSET, runTool } from '../helpers/resp.js';
import { tempDir } from '../helpers/temp-dir.js';

let cluster: TestCluster | undefined;
let ports: number[] = [];

/** cli runs redis-cli against node `i`'s RESP port on ::1. */
async function cli(i: number, args: string[], extra: string[] = []): Promise<string> {
  const r = await runTool('redis-cli', [
    '-h',
    '::1',
    '-p',
    String(ports[i]! + RESP_OFFSET),
    ...extra,
    ...args,
  ]);
  if (r.code !== 0) throw new Error(`redis-cli ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** ownerOf returns the index of the node leading `key`'s shard (2 shards, default slot ranges). */
function ownerOf(key: string): number {
  return slotOf(key) <= defaultSlotRange(0, 2).last ? 0 : 1;
}

before(async () => {
  const free = [await freeNodeAddress('::1'), await freeNodeAddress('::1')];
  ports = free.map((a) => Number(a.slice(a.lastIndexOf(':') + 1)));
  cluster = await TestCluster.start({ dir, shards: ports.map((p) => ({ address: `[::1]:${p}` })) });
});

after(async () => {
  await cluster?.stop();
});

// Registered after the stop hook, so the servers stop before the directory is removed.
const dir = tempDir(after);

describe('RESP cluster mode on IPv6', () => {
  it('answers -MOVED slot ::1:port as Redis does, and redis-cli -c follows it', async () => {
    const key = Array.from({ length: 100 }, (_, i) => `v6-${i}`).find((k) => ownerOf(k) === 1)!;
    const moved = await cli(0, ['SET', key, 'v']);
    assert.equal(moved.trim(), `MOVED ${slotOf(key)} ::1:${ports[1]! + RESP_OFFSET}`);
    assert.equal(await cli(0, ['SET', key, 'via-0'], ['-c']), 'OK\n');
    assert.equal(await cli(1, ['GET', key]), 'via-0\n');
  });

  it('writes each node of CLUSTER NODES as ::1:port@cport, and CLUSTER SLOTS and SHARDS with the bare ip', async () => {
    const nodes = (await cli(0, ['CLUSTER', 'NODES'])).trim().split('\n');
    assert.deepEqual(
      nodes.map((l) => l.split(' ')[1]).sort(),
      ports.map((p) => `::1:${p + RESP_OFFSET}@${p + RESP_OFFSET + 10000}`).sort(),
    );
    const slots = (await cli(0, ['CLUSTER', 'SLOTS'])).split('\n');
    assert.equal(slots[2], '::1');
    assert.match(await cli(0, ['CLUSTER', 'SHARDS']), /\nip\n::1\n/);
  });

  it("routes ioredis's cluster client to both nodes", async () => {
    const client = new Cluster([{ host: '::1', port: ports[0]! + RESP_OFFSET }], {
      redisOptions: { maxRetriesPerRequest: 3 },
      slotsRefreshTimeout: 5000,
    });
    try {
      const keys = Array.from({ length: 40 }, (_, i) => `io6-${i}`);
      assert.ok(keys.some((k) => ownerOf(k) === 0) && keys.some((k) => ownerOf(k) === 1));
      for (const k of keys) assert.equal(await client.set(k, `v${k}`), 'OK');
      for (const k of keys) assert.equal(await client.get(k), `v${k}`);
      for (const k of keys) assert.equal(await cli(ownerOf(k), ['GET', k]), `v${k}\n`, 'stored on its owner');
    } finally {
      client.disconnect();
    }
  });
});
