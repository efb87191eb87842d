/**
 * A watch's `from` naming a shard the cluster does not have is refused before any stream opens:
 * the client library rejects with INVALID_ARGUMENT naming the shard and the cluster's shards, and
 * `distkv watch --from` exits 2 saying so. It used to be dropped without a word: `--from 5:0.9`
 * on a one-shard cluster (a typo for `0:0.9`, or another cluster's cursor) watched shard 0 from
 * now, skipping every change since 0.9.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { DistkvError } from '../../src/errors.js';
import { runCli } from '../helpers/server-process.js';
import { type HandlerTwin, startOneShardTwin } from '../helpers/twin-server.js';

/** watches are the /watch targets the node got. */
const watches: string[] = [];
let node: HandlerTwin;

before(async () => {
  node = await startOneShardTwin((req, res) => {
    // A stream is never what these tests want: a refusal the watch cannot mistake for the client's
    // own ends it at once (instead of watching on until the test's timeout).
    watches.push(req.url ?? '');
    res
      .writeHead(400, { 'content-type': 'application/json' })
      .end(JSON.stringify({ error: { code: 'INVALID_ARGUMENT', message: 'twin: a stream was opened' } }));
  });
});

after(async () => {
  await node.stop();
});

describe('watch from a shard the cluster does not have', () => {
  it("rejects with INVALID_ARGUMENT naming the shard and the cluster's shards, no stream opened", async () => {
    watches.length = 0;
    const client = new DistkvClient({ urls: [node.address], retries: 0 });
    try {
      const events = client.watch('p', { from: '5:0.9,0:0.3', signal: AbortSignal.timeout(10000) });
      await assert.rejects(events.next(), (err: unknown) => {
        assert.ok(err instanceof DistkvError, String(err));
        assert.equal(err.code, 'INVALID_ARGUMENT');
        assert.match(err.message, /from names shard 5, which this cluster does not have \(its shards: 0\)/);
        return true;
      });
      assert.deepEqual(watches, []);
    } finally {
      await client.close();
    }
  });

  it('opens the stream for a from naming only its shards', async () => {
    watches.length = 0;
    const client = new DistkvClient({ urls: [node.address], retries: 0 });
    try {
      const events = client.watch('p', { from: '0:0.3', signal: AbortSignal.timeout(10000) });
      await assert.rejects(events.next(), /twin: a stream was opened/);
      assert.deepEqual(watches, ['/watch?prefix=p&shards=0&from=0%3A0.3']);
    } finally {
      await client.close();
    }
  });

  it('distkv watch --from exits 2 naming the shard, no stream opened', async () => {
    watches.length = 0;
    const r = await runCli(['watch', 'p', '--from', '7:0.1', '--url', node.address]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /from names shard 7, which this cluster does not have/);
    assert.deepEqual(watches, []);
  });
});
