/**
 * RESP in cluster mode across three `distkv serve --node` processes, each leading one shard:
 * redis-cli -c following MOVED, and ioredis's cluster client running 10,000 mixed operations
 * checked against a model (a Map), its keys spread over all three nodes by Redis's slot function.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Cluster } from 'ioredis';
import { defaultSlotRange } from '../../src/config/validate-config.js';
import { slotOf } from '../../src/routing/slot.js';
import { TestCluster } from '../helpers/cluster.js';
import { seededRandom, testSeed } from '../helpers/random.js';
import { freeNodeAddress, redisCli, respOf, runTool } from '../helpers/resp.js';
import { tempDir } from '../helpers/temp-dir.js';

let cluster: TestCluster;
let nodes: string[] = [];

/** ownerOf returns the node leading the shard of `key` (3 shards, default slot ranges). */
function ownerOf(key: string): string {
  const slot = slotOf(key);
  const i = [0, 1, 2].find((s) => {
    const r = defaultSlotRange(s, 3);
    return slot >= r.first && slot <= r.last;
  })!;
  return nodes[i]!;
}

before(async () => {
  nodes = [await freeNodeAddress(), await freeNodeAddress(), await freeNodeAddress()];
  cluster = await TestCluster.start({ dir, shards: nodes.map((address) => ({ address })) });
});

after(async () => {
  await cluster.stop();
});

// Created here, not in before(): an after() registered inside a root before() runs as soon as that
// hook ends (Node 20) and would delete the directory under the running servers. Registered after
// the stop hook, so the servers stop before the directory is removed.
const dir = tempDir(after);

describe('RESP cluster mode over three processes', () => {
  it('answers -MOVED slot host:port for a key another node owns, and redis-cli -c follows it', async () => {
    const key = Array.from({ length: 100 }, (_, i) => `moved-${i}`).find((k) => ownerOf(k) === nodes[1])!;
    const moved = await redisCli(nodes[0]!, ['SET', key, 'v']);
    const owner = respOf(nodes[1]!);
    assert.equal(moved.trim(), `MOVED ${slotOf(key)} ${owner.host}:${owner.port}`);
    assert.equal(await redisCli(nodes[0]!, ['SET', key, 'via-0'], ['-c']), 'OK\n');
    assert.equal(await redisCli(nodes[2]!, ['GET', key], ['-c']), 'via-0\n');
    assert.equal(await redisCli(nodes[1]!, ['GET', key]), 'via-0\n');
    const http = await fetch(`http://${nodes[2]}/kv/${key}`);
    assert.equal(await http.text(), 'via-0', 'HTTP (following its 307) sees the RESP write');
  });

  it('redirects a command with bad arguments for a key another node owns before reading them, as Redis Cluster does', async () => {
    const key = Array.from({ length: 100 }, (_, i) => `badargs-${i}`).find((k) => ownerOf(k) === nodes[1])!;
    const owner = respOf(nodes[1]!);
    const moved = `MOVED ${slotOf(key)} ${owner.host}:${owner.port}`;
    const bad = [
      ['SET', key, 'v', 'BADOPT'],
      ['SET', key, 'v', 'EX', 'abc'],
      ['INCRBY', key, 'abc'],
      ['EXPIRE', key, 'abc'],
      ['SETEX', key, '0', 'v'],
      ['GETRANGE', key, 'a', 'b'],
      ['SETRANGE', key, '-1', 'v'],
      ['GETEX', key, 'BADOPT'],
      // a key without its value: Redis redirects on the keys, then counts the pairs
      ['MSET', key, 'v', key],
      ['MSETNX', key, 'v', key],
    ];
    for (const args of bad) assert.equal((await redisCli(nodes[0]!, args)).trim(), moved, args.join(' '));
    // Its owner reads them and refuses them.
    assert.equal((await redisCli(nodes[1]!, bad[0]!)).trim(), 'ERR syntax error');
    assert.equal(
      (await redisCli(nodes[1]!, ['MSET', key, 'v', key])).trim(),
      "ERR wrong number of arguments for 'mset' command",
    );
    assert.equal(
      (await redisCli(nodes[0]!, bad[0]!, ['-c'])).trim(),
      'ERR syntax error',
      'redis-cli -c follows',
    );
  });

  it('gives every node the same CLUSTER SLOTS, naming each leader by its RESP address', async () => {
    const views = await Promise.all(nodes.map((n) => redisCli(n, ['CLUSTER', 'SLOTS'])));
    assert.equal(new Set(views).size, 1);
    const lines = views[0]!.split('\n');
    for (let i = 0; i < 3; i++) {
      const r = defaultSlotRange(i, 3);
      assert.deepEqual(lines.slice(i * 5, i * 5 + 4), [
        String(r.first),
        String(r.last),
        '127.0.0.1',
        String(respOf(nodes[i]!).port),
      ]);
    }
  });

  it('runs 10,000 mixed ioredis cluster operations in 20 concurrent lanes, each checked against a model', async () => {
    const seed = testSeed();
    const client = new Cluster([{ host: respOf(nodes[0]!).host, port: respOf(nodes[0]!).port }], {
      redisOptions: { maxRetriesPerRequest: 3 },
      slotsRefreshTimeout: 5000,
    });
    try {
      const lanes = 20;
      const perLane = 500;
      const touched = new Set<string>();
      const lane = async (l: number): Promise<void> => {
        const model = new Map<string, string>();
        // A source per lane: how the lanes interleave must not decide what each one draws, so a
        // failing seed replays each lane's operations exactly.
        const rnd = seededRandom((seed + Math.imul(l + 1, 0x9e3779b9)) >>> 0);
        const key = (): string => `lane${l}:k${Math.floor(rnd() * 16)}`;
        const tagged = (i: number): string => `{lane${l}}:t${i}`;
        for (let n = 0; n < perLane; n++) {
          const at = `seed ${seed} lane ${l} op ${n}`;
          const pick = rnd();
          if (pick < 0.25) {
            const k = key();
            const v = `v${Math.floor(rnd() * 1e6)}`;
            assert.equal(await client.set(k, v), 'OK', at);
            model.set(k, v);
            touched.add(k);
          } else if (pick < 0.5) {
            const k = key();
            assert.equal(await client.get(k), model.get(k) ?? null, `${at}: GET ${k}`);
          } else if (pick < 0.6) {
            const k = key();
            assert.equal(await client.del(k), model.delete(k) ? 1 : 0, `${at}: DEL ${k}`);
          } else if (pick < 0.7) {
            const k = `lane${l}:n${Math.floor(rnd() * 4)}`;
            const next = Number(model.get(k) ?? '0') + 1;
            assert.equal(await client.incr(k), next, `${at}: INCR ${k}`);
            model.set(k, String(next));
          } else if (pick < 0.8) {
            const ks = [tagged(0), tagged(1), tagged(2)];
            const vs = ks.map(() => String(Math.floor(rnd() * 1000)));
            assert.equal(await client.mset(ks[0]!, vs[0]!, ks[1]!, vs[1]!, ks[2]!, vs[2]!), 'OK', at);
            ks.forEach((k, i) => model.set(k, vs[i]!));
          } else if (pick < 0.88) {
            const ks = [tagged(0), tagged(1), tagged(3)];
            assert.deepEqual(
              await client.mget(...ks),
              ks.map((k) => model.get(k) ?? null),
              `${at}: MGET`,
            );
          } else if (pick < 0.94) {
            const k = key();
            const v = `nx${n}`;
            const r = await client.set(k, v, 'NX');
            assert.equal(r, model.has(k) ? null : 'OK', `${at}: SET NX ${k}`);
            if (!model.has(k)) model.set(k, v);
          } else {
            const k = key();
            assert.equal(await client.exists(k), model.has(k) ? 1 : 0, `${at}: EXISTS ${k}`);
          }
        }
        for (const [k, v] of model)
          assert.equal(await client.get(k), v, `seed ${seed} lane ${l}: final ${k}`);
      };
      await Promise.all(Array.from({ length: lanes }, (_, l) => lane(l)));
      const owners = new Set([...touched].map(ownerOf));
      assert.equal(owners.size, 3, 'the keys spread over all three nodes');
    } finally {
      client.disconnect();
    }
  });

  it('scans every node with redis-cli --scan and finds each key on its owner only', async () => {
    const keys = Array.from({ length: 30 }, (_, i) => `scanned-${i}`);
    for (const k of keys) await redisCli(ownerOf(k), ['SET', k, '1']);
    for (const n of nodes) {
      const { host, port } = respOf(n);
      const r = await runTool('redis-cli', [
        '-h',
        host,
        '-p',
        String(port),
        '--scan',
        '--pattern',
        'scanned-*',
      ]);
      const found = r.stdout
        .split('\n')
        .filter((x) => x !== '')
        .sort();
      assert.deepEqual(found, keys.filter((k) => ownerOf(k) === n).sort());
    }
  });
});
