/**
 * A watcher sees a TTL key expire even when the node restarted between the write and the expiry
 * (docs/api.md, "TTL"; src/worker/expiry-scan.ts): the restarted leader logs the expire record
 * itself, without any read of the key.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { DistkvClient, type WatchChange } from '../../src/client/index.js';
import { TestCluster } from '../helpers/cluster.js';
import { freePort } from '../helpers/ports.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('TTL expiry across a restart, as a watcher sees it', () => {
  it('delivers the expire event of a key written with a TTL before the node restarted', async () => {
    const dir = tempDir(after);
    const a = `127.0.0.1:${await freePort()}`;
    const cluster = await TestCluster.start({ dir, shards: [{ address: a }], args: ['--inline'] });
    const client = new DistkvClient({ urls: [a] });
    const stop = new AbortController();
    try {
      await client.put('ttl/restart', 'v', { ttlMs: 2000 });
      await client.put('ttl/plain', 'p');
      await cluster.stopNode(a);
      await cluster.startNode(a);
      const seen: WatchChange[] = [];
      const watched = (async () => {
        for await (const ev of client.watch('ttl/', { from: '0.0', signal: stop.signal })) {
          seen.push(ev);
          if (ev.type === 'expire') return;
        }
      })();
      const timeout = new Promise((_, reject) =>
        setTimeout(() => {
          reject(new Error(`no expire event; saw ${seen.map((e) => `${e.type}:${e.key ?? ''}`).join(' ')}`));
        }, 15000).unref(),
      );
      await Promise.race([watched, timeout]);
      const expire = seen.at(-1)!;
      assert.equal(expire.type, 'expire');
      assert.equal(expire.key, 'ttl/restart');
      assert.deepEqual(
        seen.filter((e) => e.type === 'put').map((e) => e.key),
        ['ttl/restart', 'ttl/plain'],
        'the puts come first, in log order',
      );
    } finally {
      stop.abort();
      await client.close();
      await cluster.stop();
    }
  });
});
