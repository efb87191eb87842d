/**
 * What operators and applications run first against a Redis Cluster, against two distkv nodes that
 * each lead two shards and host the replicas of the other's, one process each (a node serves the
 * keys of every leader in its own process, so two processes are needed to see -MOVED): redis-cli's
 * `--cluster check` / `info` / `set-timeout`, `--pipe` mass insertion, `--bigkeys` and `--memkeys`, and ioredis's
 * cluster client reading from replicas (`scaleReads: 'slave'`) with auto-pipelining, scanning every
 * master with `scanStream`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Cluster, Redis } from 'ioredis';
import { defaultSlotRange } from '../../src/config/validate-config.js';
import { slotOf } from '../../src/routing/slot.js';
import { freeNodeAddress, redisCli, respOf, runTool } from '../helpers/resp.js';
import { mutualLayout, TestCluster } from '../helpers/cluster.js';
import { tempDir } from '../helpers/temp-dir.js';

let cluster: TestCluster;
let A = '';
let B = '';

/** ownerOf is the node leading `key`'s shard: shards 0 and 1 on A, 2 and 3 on B. */
function ownerOf(key: string): string {
  return slotOf(key) <= defaultSlotRange(1, 4).last ? A : B;
}

/** keysOf returns `n` keys named `prefix<i>` that `node` leads. */
function keysOf(node: string, prefix: string, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n && i < 100 * n; i++)
    if (ownerOf(`${prefix}${i}`) === node) out.push(`${prefix}${i}`);
  return out;
}

/** cli runs redis-cli with `args` against `node`'s RESP address; returns its exit code and output. */
async function cli(node: string, args: string[], input?: Buffer): Promise<{ code: number; out: string }> {
  const { host, port } = respOf(node);
  const r = await runTool('redis-cli', ['-h', host, '-p', String(port), ...args], input);
  return { code: r.code, out: r.stdout + r.stderr };
}

/** clusterClient is an ioredis cluster client that starts at A. */
function clusterClient(options: ConstructorParameters<typeof Cluster>[1] = {}): Cluster {
  return new Cluster([respOf(A)], { slotsRefreshTimeout: 5000, ...options });
}

before(async () => {
  A = await freeNodeAddress();
  B = await freeNodeAddress();
  cluster = await TestCluster.start({ dir, shards: mutualLayout(A, B, 2) });
});

after(async () => {
  await cluster.stop();
});

// Created here, not in before(): registered after the stop hook, so the servers stop first.
const dir = tempDir(after);

describe('redis-cli tools against two nodes that lead shards and replicate each other', () => {
  it('passes redis-cli --cluster check and --cluster info: two masters, every slot covered', async () => {
    const { host, port } = respOf(A);
    const check = await runTool('redis-cli', ['--cluster', 'check', `${host}:${port}`]);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /\[OK\] All nodes agree about slots configuration\./);
    assert.match(check.stdout, /\[OK\] All 16384 slots covered\./);
    assert.match(check.stdout, /\[OK\] \d+ keys in 2 masters\./);
    const info = await runTool('redis-cli', ['--cluster', 'info', `${host}:${port}`]);
    assert.equal(info.code, 0, info.stdout + info.stderr);
    assert.equal((info.stdout.match(/\| 8192 slots \|/g) ?? []).length, 2, info.stdout);
  });

  it('reports cluster-node-timeout, so redis-cli --cluster set-timeout to its value succeeds on every node and another is refused', async () => {
    assert.equal(
      await redisCli(A, ['CONFIG', 'GET', 'cluster-node-timeout']),
      'cluster-node-timeout\n3000\n',
    );
    const { host, port } = respOf(A);
    const same = await runTool('redis-cli', ['--cluster', 'set-timeout', `${host}:${port}`, '3000']);
    assert.match(same.stdout, /New node timeout set\. 2 OK, 0 ERR\./, same.stdout);
    const other = await runTool('redis-cli', ['--cluster', 'set-timeout', `${host}:${port}`, '5000']);
    assert.match(other.stdout, /can't set immutable config/, other.stdout);
    assert.match(other.stdout, /New node timeout set\. 0 OK, 2 ERR\./, other.stdout);
  });

  it('mass-inserts with redis-cli --pipe into each node the keys it leads, every reply counted and no error', async () => {
    for (const node of [A, B]) {
      const keys = keysOf(node, 'piped:', 3000);
      const proto = keys
        .map((k) => `*3\r\n$3\r\nSET\r\n$${k.length}\r\n${k}\r\n$${k.length}\r\n${k}\r\n`)
        .join('');
      const r = await cli(node, ['--pipe'], Buffer.from(proto));
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, new RegExp(`errors: 0, replies: ${keys.length}\\n`));
      for (const k of [keys[0]!, keys.at(-1)!]) assert.equal(await redisCli(node, ['GET', k]), `${k}\n`);
    }
  });

  it('samples every key a node leads with redis-cli --bigkeys and --memkeys', async () => {
    for (const node of [A, B]) {
      const keys = Number((await redisCli(node, ['DBSIZE'])).trim());
      assert.ok(keys >= 3000, `DBSIZE ${keys}`);
      for (const mode of ['--bigkeys', '--memkeys']) {
        const r = await cli(node, [mode]);
        assert.equal(r.code, 0, r.out);
        assert.match(r.out, new RegExp(`Sampled ${keys} keys in the keyspace!`), `${mode}: ${r.out}`);
        assert.match(
          r.out,
          new RegExp(`${keys} strings with \\d+ bytes \\(100\\.00% of keys`),
          `${mode}: ${r.out}`,
        );
      }
    }
  });
});

describe('ioredis cluster client against two nodes that lead shards and replicate each other', () => {
  it('names a node that leads shards only as a master: CLUSTER SLOTS lists no such node as a replica', async () => {
    const conn = new Redis(respOf(A));
    try {
      const slots = await conn.cluster('SLOTS');
      const nodesOf = ([, , ...nodes]: (typeof slots)[number]): string[] =>
        nodes.map(([h, p]) => `${h}:${p}`);
      const masters = new Set(slots.map((e) => nodesOf(e)[0]));
      assert.equal(masters.size, 2);
      for (const e of slots)
        for (const r of nodesOf(e).slice(1)) assert.ok(!masters.has(r), `${r} is a master and a replica`);
    } finally {
      conn.disconnect();
    }
  });

  it("reads every key with scaleReads: 'slave' and auto-pipelining, 400 concurrent calls over both nodes", async () => {
    // Before, CLUSTER SLOTS named B a replica of A's shards; ioredis keeps B's one connection as a
    // master (no READONLY), so each read of A's keys went to B, got -MOVED to A, went to B again,
    // and failed with "Too many Cluster redirections".
    const client = clusterClient({ scaleReads: 'slave', enableAutoPipelining: true });
    try {
      const keys = Array.from({ length: 200 }, (_, i) => `replica-read:${i}`);
      assert.ok(new Set(keys.map(ownerOf)).size === 2, 'keys on both nodes');
      const set = await Promise.all(keys.map((k, i) => client.set(k, String(i))));
      assert.deepEqual(new Set(set), new Set(['OK']));
      const got = await Promise.all(keys.map((k) => client.get(k)));
      assert.deepEqual(
        got,
        keys.map((_, i) => String(i)),
      );
      assert.deepEqual(await client.mget('{tag}a', '{tag}b'), [null, null]);
    } finally {
      client.disconnect();
    }
  });

  it("finds every key once with scanStream over cluster.nodes('master')", async () => {
    const client = clusterClient();
    try {
      const keys = Array.from({ length: 100 }, (_, i) => `streamed:${i}`);
      for (const k of keys) await client.set(k, 'v');
      const found: string[] = [];
      const masters = client.nodes('master');
      assert.equal(masters.length, 2);
      for (const node of masters)
        for await (const page of node.scanStream({ match: 'streamed:*', count: 37 }))
          found.push(...(page as string[]));
      assert.deepEqual(found.sort(), keys.sort());
    } finally {
      client.disconnect();
    }
  });
});
