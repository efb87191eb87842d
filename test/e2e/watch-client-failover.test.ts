/**
 * `client.watch` follows a shard to its new leader after a failover (docs/watch.md, "Resuming"):
 * one shard led by A with replicas B and C; a watch is open when A is killed and B is promoted by
 * a forced failover. The watch must go on with the writes B takes. It used to reconnect to A, the
 * leader it started with, for ever: refused every time, it yielded nothing and said nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { failover } from '../../src/cli/failover.js';
import { DistkvClient } from '../../src/client/client.js';
import type { WatchChange } from '../../src/client/watch.js';
import type { TestCluster } from '../helpers/cluster.js';
import { waitFor } from '../helpers/failover-model.js';
import { Trio } from '../helpers/trio.js';

describe('a client watch across a forced failover', { timeout: 120000 }, () => {
  let trio: Trio;
  let cluster: TestCluster;
  let A = '';
  let B = '';
  let C = '';
  const clients: DistkvClient[] = [];

  before(async () => {
    trio = await Trio.start('watch-failover');
    ({ cluster, A, B, C } = trio);
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await trio.stop();
  });

  it('goes on with the new leader once the old one is gone', async () => {
    const client = new DistkvClient({ urls: [A, B, C] });
    clients.push(client);
    const seen: WatchChange[] = [];
    const stop = new AbortController();
    const watching = (async () => {
      for await (const ev of client.watch('wf:', { signal: stop.signal })) seen.push(ev);
    })().catch((err: unknown) => {
      if (!stop.signal.aborted) throw err;
    });
    try {
      await waitFor('the watch to see a write at A', async () => {
        await client.put('wf:before', 'a', { w: 2 });
        return seen.some((e) => e.key === 'wf:before');
      });
      await cluster.kill(A);
      const r = await failover({
        urls: [`http://${B}`, `http://${C}`],
        shard: 'shard-0',
        to: B,
        force: true,
        token: '',
        timeoutMs: 5000,
      });
      assert.equal(r.to, B);
      const writer = new DistkvClient({ urls: [B, C] });
      clients.push(writer);
      await writer.put('wf:after', 'b', { w: 1 });
      await waitFor(
        'the watch to see the write at the new leader',
        () => Promise.resolve(seen.some((e) => e.key === 'wf:after' && e.value?.toString() === 'b')),
        20000,
      );
    } finally {
      stop.abort();
      await watching;
    }
  });
});
