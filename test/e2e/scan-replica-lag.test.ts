/**
 * A scan page says which of its parts a replica served, as a single-key read from a replica does
 * (docs/api.md, "Scans and replicas"). Two nodes, each leading one shard and replicating the other:
 * a scan at A reads shard 1 from A's replica. The page carries `X-Distkv-Lag` (the worst of its
 * replica parts) and `replica_lag` per shard; with shard 1's leader stopped, the lag reads as
 * unknown (`disconnected`), never as a page as fresh as a leader's. The client library reads
 * leaders unless asked for replica reads, and then marks the items a replica served; `distkv scan
 * --replica` (and `distkv get --replica`) say so on stderr.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { loadConfig } from '../../src/config/load-config.js';
import { ShardMap } from '../../src/routing/shard-map.js';
import { TestCluster } from '../helpers/cluster.js';
import { freeNodeAddress } from '../helpers/resp.js';
import { runCli } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';
import { pauseProcess } from '../helpers/process-pause.js';

let cluster: TestCluster;
let A = '';
let B = '';
let map: ShardMap;
const clients: DistkvClient[] = [];
const keys = Array.from({ length: 30 }, (_, i) => `lagged:${String(i).padStart(2, '0')}`);

before(async () => {
  A = await freeNodeAddress();
  B = await freeNodeAddress();
  cluster = await TestCluster.start({
    dir,
    shards: [
      { address: A, replicas: [B] },
      { address: B, replicas: [A] },
    ],
    extraToml: '[replication]\npull_wait_ms = 200\n',
  });
  map = new ShardMap(loadConfig(cluster.config).shards);
  assert.ok(keys.some((k) => map.shardOf(k) === 0) && keys.some((k) => map.shardOf(k) === 1));
  const writer = new DistkvClient({ urls: [A] });
  clients.push(writer);
  for (const k of keys) await writer.put(k, k, { w: 1 });
});

after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  if (B !== '') cluster.process(B).child.kill('SIGCONT');
  await cluster.stop();
});

// Created here, not in before(): see resp-failover.test.ts.
const dir = tempDir(after);

interface Page {
  items: { key: string }[];
  replica_lag?: Record<string, string>;
}

describe('a scan page served partly by a replica', () => {
  it('carries X-Distkv-Lag and replica_lag naming the shard a replica served', async () => {
    const r = await fetch(`http://${A}/kv?prefix=lagged:&limit=1000`);
    assert.equal(r.status, 200);
    const body = (await r.json()) as Page;
    assert.deepEqual(
      body.items.map((i) => i.key),
      keys,
    );
    assert.match(r.headers.get('x-distkv-lag') ?? 'missing', /^\d+$/);
    assert.deepEqual(Object.keys(body.replica_lag ?? {}), ['1']);
    assert.match(body.replica_lag?.['1'] ?? '', /^\d+$/);
  });

  it('carries no lag when only leaders served it', async () => {
    const r = await fetch(`http://${A}/kv?prefix=lagged:&limit=1000&shards=0&local=1`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-distkv-lag'), null);
    assert.equal(((await r.json()) as Page).replica_lag, undefined);
  });

  it('reads leaders from the client library, and marks replica items with replicaReads', async () => {
    const leaders = new DistkvClient({ urls: [A] });
    const replicas = new DistkvClient({ urls: [A], replicaReads: true });
    clients.push(leaders, replicas);
    for (let round = 0; round < 2; round++) {
      const page = await leaders.scanPage('lagged:', { limit: 1000 });
      assert.equal(page.items.length, keys.length);
      assert.equal(page.replicaLag, undefined, 'a leader-only scan reads no replica');
      assert.ok(page.items.every((i) => i.replicaLag === undefined));
    }
    let marked = 0;
    for await (const i of replicas.scan('lagged:', { pageSize: 7 })) {
      if (i.replicaLag !== undefined) {
        marked++;
        assert.match(i.replicaLag, /^\d+$/);
      }
    }
    assert.ok(marked > 0, 'no item was marked as read from a replica');
  });

  it('says the lag is unknown once the replicated shard leader stops answering, and distkv scan --replica shows it', async () => {
    await pauseProcess(cluster.process(B).child);
    // pull_wait_ms (200) + the 3 s grace before a silent leader counts as lost: asked until then
    // (at most 15 s), rather than a fixed 3.8 s that a loaded machine could overrun.
    const deadline = Date.now() + 15000;
    let r = await fetch(`http://${A}/kv?prefix=lagged:&limit=1000`);
    while (!(r.headers.get('x-distkv-lag') ?? '').startsWith('disconnected') && Date.now() < deadline) {
      await r.arrayBuffer();
      await new Promise((res) => setTimeout(res, 100));
      r = await fetch(`http://${A}/kv?prefix=lagged:&limit=1000`);
    }
    assert.equal(r.status, 200);
    const lag = r.headers.get('x-distkv-lag') ?? 'missing';
    assert.match(lag, /^disconnected; last-contact-ms=\d+$/);
    assert.equal(((await r.json()) as Page).replica_lag?.['1'], lag);
    const cli = await runCli(['scan', 'lagged:', '--limit', '1000', '--url', A, '--replica']);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(cli.stdout.trim().split('\n').length, keys.length);
    assert.match(cli.stderr, /shard 1 .*replica.*disconnected/);
    const key = keys.find((k) => map.shardOf(k) === 1)!;
    const get = await runCli(['get', key, '--url', A, '--replica']);
    assert.equal(get.code, 0, get.stderr);
    assert.equal(get.stdout, key);
    assert.match(get.stderr, /read from a replica: X-Distkv-Lag disconnected/);
    cluster.process(B).child.kill('SIGCONT');
  });
});
