/**
 * Multi-host mode across processes on loopback: the seed's 4-shard layout as 10 `distkv serve
 * --node` processes (4 leaders, 6 replicas). Wrong-node requests are redirected, redirects can be
 * followed, the client library routes without redirects, multi-key requests scatter to the
 * owners, the CLI works against it, and a node that is down is reported by shard.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { DistkvError } from '../../src/errors.js';
import { slotOf } from '../../src/routing/slot.js';
import { ShardMap } from '../../src/routing/shard-map.js';
import { loadConfig } from '../../src/config/load-config.js';
import { seedLayout, TestCluster } from '../helpers/cluster.js';
import { Duo } from '../helpers/duo.js';
import { runCli as cli, type ShardLayout, writeConfig } from '../helpers/server-process.js';

let dir = '';
let cluster: TestCluster;
let map: ShardMap;
let layout: ShardLayout[] = [];

function keyInShard(shard: number, prefix: string, n = 0): string {
  for (let i = 0, found = 0; ; i++) {
    const k = `${prefix}${i}`;
    if (map.shardOf(k) === shard && found++ === n) return k;
  }
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'distkv-multihost-'));
  layout = await seedLayout();
  cluster = await TestCluster.start({
    dir,
    shards: layout,
    extraToml: '[storage]\nmemtable_bytes = 8388608\n',
    // One store or two per process: run them on the main thread (10 processes share 2 cores in CI).
    args: ['--inline'],
  });
  map = new ShardMap(loadConfig(cluster.config).shards);
});

after(async () => {
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a cluster of one process per node', () => {
  it('serves the same /cluster topology, with the config hash, from every node', async () => {
    const docs = await Promise.all(
      cluster.addresses.map(
        async (a) =>
          (await (await fetch(`http://${a}/cluster`)).json()) as {
            version: string;
            node: string;
            shards: {
              idx: number;
              slots: [number, number];
              leader: { address: string };
              replicas: { address: string }[];
            }[];
            peers: { address: string; state: string }[];
          },
      ),
    );
    for (const d of docs) {
      assert.equal(d.version, map.hash);
      assert.deepEqual(
        d.shards.map((s) => [s.leader.address, s.replicas.map((r) => r.address)]),
        layout.map((s) => [s.address, s.replicas]),
      );
      assert.equal(d.shards[0]!.slots[0], 0);
      assert.equal(d.shards[3]!.slots[1], 16383);
    }
    // Each node asks the others for their hash; poll until the start-up round has completed.
    const deadline = Date.now() + 15000;
    for (;;) {
      const d = (await (await fetch(`http://${layout[0]!.address}/cluster`)).json()) as (typeof docs)[0];
      assert.equal(d.peers.length, cluster.addresses.length - 1);
      if (d.peers.every((p) => p.state === 'agrees')) break;
      assert.ok(Date.now() < deadline, `peers did not all agree: ${JSON.stringify(d.peers)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  it('redirects every key request at a wrong node with 307 to the owner, never to itself', async () => {
    for (let shard = 0; shard < 4; shard++) {
      const key = keyInShard(shard, 'redir-');
      const owner = layout[shard]!.address;
      for (const node of cluster.leaders) {
        for (const [method, path] of [
          ['GET', `/kv/${key}?max_lag_ms=60000`],
          ['PUT', `/kv/${key}`],
          ['DELETE', `/kv/${key}`],
          ['GET', `/get?key=${key}`],
          ['GET', `/set?key=${key}&value=v`],
        ] as const) {
          const r = await fetch(`http://${node}${path}`, {
            method,
            redirect: 'manual',
            ...(method === 'PUT' ? { body: 'v' } : {}),
          });
          const body = await r.text();
          if (node === owner) {
            assert.ok(
              r.status < 300 || r.status === 404,
              `${method} ${path} at its owner ${node}: ${r.status}`,
            );
            continue;
          }
          assert.equal(r.status, 307, `${method} ${path} at ${node}: ${body}`);
          assert.equal(r.headers.get('location'), `http://${owner}${path}`);
          assert.notEqual(new URL(r.headers.get('location')!).host, node);
          assert.equal(r.headers.get('x-distkv-config'), map.hash);
          const doc = JSON.parse(body) as { redirect: { owner: string; shard: number; slot: number } };
          assert.deepEqual(
            [doc.redirect.owner, doc.redirect.shard, doc.redirect.slot],
            [owner, shard, slotOf(key)],
          );
        }
      }
    }
  });

  it('sends writes at a replica to its leader and serves reads of its own shard', async () => {
    const key = keyInShard(1, 'replica-');
    const replica = layout[1]!.replicas![0]!;
    const put = await fetch(`http://${replica}/kv/${key}`, { method: 'PUT', body: 'x', redirect: 'manual' });
    assert.equal(put.status, 307);
    assert.equal(put.headers.get('location'), `http://${layout[1]!.address}/kv/${key}`);
    await fetch(`http://${layout[1]!.address}/kv/${key}?w=1`, { method: 'PUT', body: 'from-leader' });
    const get = await fetch(`http://${replica}/kv/${key}`);
    assert.equal(get.status, 200);
    assert.equal(await get.text(), 'from-leader');
    assert.ok(get.headers.get('x-distkv-lag') !== null);
  });

  it('lets a client that follows redirects (curl -L) GET and PUT through any node', async () => {
    for (let shard = 0; shard < 4; shard++) {
      const key = keyInShard(shard, 'follow-');
      const node = cluster.leaders[(shard + 1) % 4]!;
      const put = await fetch(`http://${node}/kv/${key}`, { method: 'PUT', body: `value-${shard}` });
      assert.equal(put.status, 204);
      assert.equal(put.redirected, true);
      const get = await fetch(`http://${node}/kv/${key}`);
      assert.equal(await get.text(), `value-${shard}`);
      assert.equal(get.url, `http://${layout[shard]!.address}/kv/${key}`);
      const seed = await fetch(`http://${node}/get?key=${key}`);
      assert.equal(await seed.text(), `Value: value-${shard}`);
    }
  });

  it('client library: 2000 mixed operations, each routed to its owner with zero redirects after warm-up', async () => {
    const client = new DistkvClient({ urls: [`http://${layout[2]!.address}`] });
    try {
      await client.topology();
      assert.equal(client.version, map.hash);
      const model = new Map<string, string>();
      const keys = Array.from({ length: 500 }, (_, i) => `mixed-${i}`);
      // OPS is four passes over the 500 keys. A key's operation depends only on its place in its
      // slice of 50 (ops is a multiple of 50), so from the second pass on each pass repeats the one
      // before (reads of keys never written, overwrites, deletes of deleted keys): 10,000 (20
      // passes) checked nothing 2000 does not. Each shard still takes over 10% of them.
      const OPS = 2000;
      let ops = 0;
      const perShard = [0, 0, 0, 0];
      while (ops < OPS) {
        // 50 concurrent operations on distinct keys, checked against the model.
        const batch = keys.slice(((ops / 50) % 10) * 50, ((ops / 50) % 10) * 50 + 50);
        await Promise.all(
          batch.map(async (key, j) => {
            perShard[map.shardOf(key)]!++;
            const kind = (ops + j) % 10;
            if (kind < 6) {
              const v = await client.get(key);
              assert.equal(v?.toString('utf8'), model.get(key), `GET ${key}`);
            } else if (kind < 9) {
              const value = `v${ops + j}`;
              await client.put(key, value);
              model.set(key, value);
            } else {
              await client.delete(key);
              model.delete(key);
            }
          }),
        );
        ops += batch.length;
      }
      assert.equal(client.stats.requests, OPS);
      assert.equal(client.stats.redirects, 0, 'every request went to its owner');
      assert.equal(client.stats.retries, 0);
      assert.ok(
        perShard.every((n) => n > OPS / 10),
        `keys spread over the 4 shards: ${perShard.join(',')}`,
      );
    } finally {
      await client.close();
    }
  });

  it('client library: a stale topology is corrected by the first redirect (one redirect, one reload)', async () => {
    const client = new DistkvClient({ urls: [`http://${layout[0]!.address}`] });
    try {
      await client.put('stale-key', 'v1');
      // Make the client's routing stale: pretend every shard is led by shard 0's node.
      const real = await client.topology();
      const wrong = new ShardMap(real.shards.map((s) => ({ ...s, address: layout[0]!.address })));
      (client as unknown as { topo: { current: ShardMap } }).topo.current = wrong;
      const key = keyInShard(3, 'stale-');
      await client.put(key, 'v2');
      assert.equal(client.stats.redirects, 1);
      await client.reload();
      assert.equal((await client.get(key))?.toString(), 'v2');
      assert.equal(client.stats.redirects, 1, 'after the reload the client routes directly again');
    } finally {
      await client.close();
    }
  });

  it('scatters a scan and a batch sent to one node to every owner and gathers the answers', async () => {
    const keys = Array.from({ length: 40 }, (_, i) => `gather:${String(i).padStart(2, '0')}`);
    const node = layout[1]!.address;
    const b = await fetch(`http://${node}/kv/_batch`, {
      method: 'POST',
      body: JSON.stringify(keys.map((key) => ({ op: 'set', key, value: `g-${key}` }))),
    });
    const body = (await b.json()) as { results: { ok: boolean }[]; errors: number };
    assert.equal(b.status, 200);
    assert.equal(body.errors, 0);
    assert.ok(new Set(keys.map((k) => map.shardOf(k))).size === 4, 'the keys span all shards');
    const seen: string[] = [];
    let next: string | null = '';
    while (next !== null) {
      const r = await fetch(
        `http://${node}/kv?prefix=gather:&limit=7${next === '' ? '' : `&after=${encodeURIComponent(next)}`}`,
      );
      const page = (await r.json()) as { items: { key: string; value: string }[]; next: string | null };
      assert.equal(r.status, 200);
      for (const i of page.items) assert.equal(i.value, `g-${i.key}`);
      seen.push(...page.items.map((i) => i.key));
      next = page.next;
    }
    assert.deepEqual(seen, keys);
  });

  it('CLI: set, get, del, scan, cluster and stats against the cluster, with exit codes', async () => {
    const url = `http://${layout[3]!.address}`;
    const key = keyInShard(0, 'cli-');
    // Started first: a node that refuses connections is retried (10 s by default, here 1 s with
    // --refused-wait-ms: the default alone was most of this case's time) before the CLI gives up,
    // and nothing else here depends on it.
    const downRun = cli(['get', '--url', 'http://127.0.0.1:1', '--refused-wait-ms', '1000', 'k']);
    // Each command costs a process start: those that do not depend on one another run together.
    const [set, table, stats, usage] = await Promise.all([
      cli(['set', '--url', url, key, 'hello']),
      cli(['cluster', '--url', url]),
      cli(['stats', '--url', url, '--json']),
      cli(['get', '--url', url]),
    ]);
    assert.equal(set.code, 0, set.stderr);
    const [got, json, scan] = await Promise.all([
      cli(['get', '--url', url, key]),
      cli(['get', '--url', url, '--json', key]),
      cli(['scan', '--url', url, '--json', 'cli-']),
    ]);
    assert.deepEqual([got.code, got.stdout], [0, 'hello']);
    assert.deepEqual(JSON.parse(json.stdout), { key, value: 'hello' });
    assert.equal(scan.code, 0);
    assert.deepEqual(
      scan.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as unknown),
      [{ key, value: 'hello' }],
    );
    assert.equal((await cli(['del', '--url', url, key])).code, 0);
    const missing = await cli(['get', '--url', url, key]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /not found/);
    assert.equal(table.code, 0);
    for (const s of layout) {
      assert.ok(table.stdout.includes(s.address), table.stdout);
      for (const r of s.replicas!)
        assert.match(table.stdout, new RegExp(`${r.replaceAll('.', '\\.')} \\(streaming`));
    }
    assert.equal(stats.code, 0);
    JSON.parse(stats.stdout);
    assert.equal(usage.code, 2);
    const down = await downRun;
    assert.equal(down.code, 1);
    assert.match(down.stderr, /SHARD_UNREACHABLE|no node answered/);
  });

  it('reports a leader that is down as 503 SHARD_UNREACHABLE naming its shard; the other shards keep working', async () => {
    const client = new DistkvClient({ urls: [`http://${layout[0]!.address}`], retries: 1 });
    try {
      await client.topology();
      const down = layout[3]!.address;
      await cluster.kill(down);
      const key = keyInShard(3, 'down-');
      await assert.rejects(client.get(key), (err: unknown) => {
        assert.ok(err instanceof DistkvError);
        assert.equal(err.code, 'SHARD_UNREACHABLE');
        assert.equal(err.status, 503);
        assert.match(
          err.message,
          new RegExp(`shard 3 \\(shard-3\\) at http://${down.replaceAll('.', '\\.')}`),
        );
        return true;
      });
      for (let shard = 0; shard < 3; shard++) {
        const k = keyInShard(shard, 'alive-');
        await client.put(k, 'still');
        assert.equal((await client.get(k))?.toString(), 'still');
      }
      // A scan through a live node answers within the forward timeout, naming the missing shard.
      const t0 = Date.now();
      const r = await fetch(`http://${layout[0]!.address}/kv?prefix=gather:&limit=100`);
      assert.ok(Date.now() - t0 < 5000);
      assert.equal(r.status, 503);
      const body = (await r.json()) as {
        error: { code: string; message: string };
        partial: { items: unknown[] };
      };
      assert.equal(body.error.code, 'SHARD_UNREACHABLE');
      assert.match(body.error.message, /shard 3 \(owner/);
      assert.ok(body.partial.items.length > 0);
      // The replica of shard 3 still serves reads of the shard.
      const replica = await fetch(`http://${layout[3]!.replicas![0]!}/kv/${keyInShard(3, 'gather:', 0)}`);
      assert.ok(replica.status === 200 || replica.status === 404);
      const table = await cli(['cluster', '--url', `http://${layout[0]!.address}`]);
      assert.equal(table.code, 1, 'distkv cluster exits 1 while a node is down');
      assert.match(table.stdout, new RegExp(`${down.replaceAll('.', '\\.')} \\(DOWN\\)`));
      // Back up: the same client reaches it again.
      await cluster.startNode(down);
      await client.put(key, 'back');
      assert.equal((await client.get(key))?.toString(), 'back');
    } finally {
      await client.close();
    }
  });
});

describe('nodes started with different configs', () => {
  let duo: Duo | undefined;
  let a = '';
  let b = '';
  let m: TestCluster | undefined;

  before(async () => {
    duo = await Duo.start('mismatch', { args: [] });
    ({ A: a, B: b, cluster: m } = duo);
    // Restart b with the shards' addresses swapped: each node now thinks the other owns every key.
    await m.stopNode(b);
    const swapped = writeConfig(mkdtempSync(join(duo.dir, 'other-')), [{ address: b }, { address: a }]);
    await m.startNode(b, swapped);
  });

  after(async () => {
    await duo?.stop();
  });

  it('is refused with SLOTS_DISPUTED once the nodes have seen each other, instead of following the redirect loop', async () => {
    // Every slot has another leader in the other file: once each node's peer check has read the
    // other's layout (within PEER_CHECK_MS of b's start), a refuses the key rather than redirecting
    // it to b, and b the request the client sends it (docs/operations.md, "When the nodes disagree
    // about the config"). Both are waited for: b sees a at its start unless a does not answer
    // within PEER_TIMEOUT_MS then, and until its next round it answered the client's write
    // CONFIG_MISMATCH (a paused for 1.5 s across b's start, injected: 3 of 3 runs).
    const deadline = Date.now() + 15000;
    for (const [node, peer] of [
      [a, b],
      [b, a],
    ] as const)
      for (;;) {
        const doc = (await (await fetch(`http://${node}/cluster`)).json()) as {
          peers: { address: string; disputed_slots?: string }[];
        };
        if (doc.peers.find((p) => p.address === peer)?.disputed_slots === '0-16383') break;
        assert.ok(
          Date.now() < deadline,
          `${node} lists every slot as disputed with ${peer}: ${JSON.stringify(doc.peers)}`,
        );
        await new Promise((r) => setTimeout(r, 100));
      }
    const client = new DistkvClient({ urls: [`http://${a}`] });
    try {
      const mapA = new ShardMap(loadConfig(m!.config).shards);
      const key = Array.from({ length: 100 }, (_, i) => `mm${i}`).find((k) => mapA.shardOf(k) === 1)!;
      await assert.rejects(client.put(key, 'v'), (err: unknown) => {
        assert.ok(err instanceof DistkvError);
        assert.equal(err.code, 'SLOTS_DISPUTED');
        assert.match(err.message, /same sharding\.toml/);
        return true;
      });
    } finally {
      await client.close();
    }
  });

  it('is refused by the other node for scatter requests, and shown in /cluster peers and the log', async () => {
    // a has seen the dispute (the test above waited for it): it refuses the scan itself, every
    // slot it would read being disputed (config-44), before forwarding any part of it.
    const r = await fetch(`http://${a}/kv?prefix=&limit=10`);
    assert.equal(r.status, 503);
    assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'SLOTS_DISPUTED');
    // A scatter part a forwards carries its config hash: b refuses it, whatever it has seen.
    const hashA = ((await (await fetch(`http://${a}/cluster`)).json()) as { version: string }).version;
    const part = await fetch(`http://${b}/kv?prefix=&limit=10&local=1&config=${hashA}`);
    assert.equal(part.status, 409);
    assert.equal(((await part.json()) as { error: { code: string } }).error.code, 'CONFIG_MISMATCH');
    const batch = await fetch(`http://${b}/kv/_batch?local=1&config=${hashA}`, {
      method: 'POST',
      body: '[]',
    });
    assert.equal(batch.status, 409);
    const deadline = Date.now() + 15000;
    for (;;) {
      const doc = (await (await fetch(`http://${a}/cluster`)).json()) as {
        version: string;
        peers: { address: string; state: string; version?: string }[];
      };
      const peer = doc.peers.find((p) => p.address === b)!;
      if (peer.state === 'disagrees') {
        assert.notEqual(peer.version, doc.version);
        break;
      }
      assert.ok(Date.now() < deadline, `mismatch not detected: ${JSON.stringify(doc.peers)}`);
      await new Promise((res) => setTimeout(res, 200));
    }
    assert.match(m!.process(b).stdout + m!.process(b).stderr, /CONFIG MISMATCH/);
  });
});

describe('nodes started with --proxy', () => {
  let duo: Duo | undefined;
  let a = '';
  let b = '';
  let pc: TestCluster | undefined;

  before(async () => {
    duo = await Duo.start('proxy', { args: ['--proxy', '--inline'] });
    ({ A: a, B: b, cluster: pc } = duo);
  });

  after(async () => {
    await duo?.stop();
  });

  const keyOfB = (p: string): string => duo!.keyOf(1, p);

  it('forwards requests for keys owned elsewhere and relays the answer instead of a 307', async () => {
    const key = keyOfB('proxied-');
    const put = await fetch(`http://${a}/kv/${key}`, { method: 'PUT', body: 'via-a', redirect: 'manual' });
    assert.equal(put.status, 204);
    assert.ok(Number(put.headers.get('x-distkv-seq')) > 0, 'the owner’s seq is relayed');
    const get = await fetch(`http://${a}/kv/${key}`, { redirect: 'manual' });
    assert.equal(get.status, 200);
    assert.equal(await get.text(), 'via-a');
    assert.equal(await (await fetch(`http://${b}/kv/${key}`)).text(), 'via-a', 'stored at the owner');
    const seedSet = await fetch(`http://${a}/set?key=${key}&value=seed`, { redirect: 'manual' });
    assert.equal(seedSet.status, 200);
    assert.equal(await seedSet.text(), 'Key set successfully on shard 1');
    assert.equal(
      await (await fetch(`http://${a}/get?key=${key}`, { redirect: 'manual' })).text(),
      'Value: seed',
    );
    assert.equal(
      (await fetch(`http://${a}/kv/${key}`, { method: 'DELETE', redirect: 'manual' })).status,
      204,
    );
    assert.equal((await fetch(`http://${a}/kv/${key}`, { redirect: 'manual' })).status, 404);
  });

  it('never forwards a forwarded request again (it redirects instead)', async () => {
    const key = keyOfB('loop-');
    const r = await fetch(`http://${a}/kv/${key}`, {
      headers: { 'x-distkv-forwarded': '1' },
      redirect: 'manual',
    });
    assert.equal(r.status, 307);
  });

  it('answers 503 SHARD_UNREACHABLE naming the shard when the owner is down', async () => {
    await pc!.kill(b);
    const r = await fetch(`http://${a}/kv/${keyOfB('down-')}`, { redirect: 'manual' });
    assert.equal(r.status, 503);
    const body = (await r.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'SHARD_UNREACHABLE');
    assert.match(body.error.message, new RegExp(`shard 1 \\(owner ${b.replaceAll('.', '\\.')}\\)`));
  });
});
