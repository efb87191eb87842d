/**
 * Watch across processes (docs/watch.md): a node asked for shards it does not hold answers 307 to
 * their node, and the client library watches a prefix spread over two processes as one stream.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { DistkvClient, type WatchChange } from '../../src/client/index.js';
import { TestCluster } from '../helpers/cluster.js';
import { freePorts } from '../helpers/ports.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('watch across processes', () => {
  it('redirects to the node of the shards asked for, and the client merges both nodes', async () => {
    const dir = tempDir(after);
    const [pa, pb] = (await freePorts(2)) as [number, number];
    const a = `127.0.0.1:${pa}`;
    const b = `127.0.0.1:${pb}`;
    const cluster = await TestCluster.start({
      dir,
      shards: [{ address: a }, { address: b }],
      args: ['--inline'],
    });
    const client = new DistkvClient({ urls: [a] });
    const stop = new AbortController();
    try {
      const r = await fetch(`http://${a}/watch?prefix=m/&shards=1`, { redirect: 'manual' });
      assert.equal(r.status, 307);
      assert.equal(r.headers.get('location'), `http://${b}/watch?prefix=m/&shards=1`);
      await r.arrayBuffer();

      const map = await client.topology();
      const keys = Array.from({ length: 20 }, (_, i) => `m/${i}`);
      assert.ok(new Set(keys.map((k) => map.shardOf(k))).size === 2, 'the keys span both nodes');
      const seen: WatchChange[] = [];
      const done = (async () => {
        for await (const ev of client.watch('m/', { from: '0.0', signal: stop.signal })) {
          seen.push(ev);
          if (seen.length === keys.length) return;
        }
      })();
      for (const k of keys) await client.put(k, `v-${k}`);
      await Promise.race([
        done,
        new Promise((_, reject) =>
          setTimeout(() => {
            reject(new Error(`saw ${seen.length} events`));
          }, 20000),
        ),
      ]);
      assert.deepEqual(seen.map((e) => e.key).sort(), [...keys].sort());
      for (const e of seen) {
        assert.equal(e.type, 'put');
        assert.equal(e.shard, map.shardOf(e.key!));
        assert.equal(e.value!.toString(), `v-${e.key!}`);
      }
    } finally {
      stop.abort();
      await client.close();
      await cluster.stop();
    }
  });
});
