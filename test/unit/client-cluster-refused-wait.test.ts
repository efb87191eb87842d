/**
 * `cluster()` and a node that refuses connections (nothing listens: a dead node, or one restarting):
 * with other nodes to ask, it is passed over at once, not tried again for the client's
 * refusedWaitMs first; `cluster(node, { refusedWaitMs })` bounds that wait for one call (what
 * `distkv restore --wait-ms` gives a leader), and a refusedWaitMs that is no wait is refused.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import type { DistkvError } from '../../src/errors.js';
import { freePort } from '../helpers/ports.js';
import { type HandlerTwin, startOneShardTwin } from '../helpers/twin-server.js';

let twin: HandlerTwin;
let closed = '';
let kv: DistkvClient;

before(async () => {
  closed = `127.0.0.1:${String(await freePort())}`; // nothing listens there
  twin = await startOneShardTwin((_req, res) => res.writeHead(404).end());
  kv = new DistkvClient({ urls: [closed, twin.address], refusedWaitMs: 10000 });
});

after(async () => {
  await kv.close();
  await twin.stop();
});

describe('cluster() and a node that refuses connections', () => {
  it('asks the next node at once', async () => {
    const started = performance.now();
    const doc = await kv.cluster();
    assert.equal(doc.node, twin.address);
    const tookMs = performance.now() - started;
    assert.ok(tookMs < 3000, `took ${String(Math.round(tookMs))} ms`);
  });

  it('waits for the node asked by name as long as refusedWaitMs says', async () => {
    const started = performance.now();
    await assert.rejects(kv.cluster(closed, { refusedWaitMs: 300 }), (e: DistkvError) => {
      assert.equal(e.code, 'SHARD_UNREACHABLE');
      return true;
    });
    const tookMs = performance.now() - started;
    assert.ok(tookMs >= 300 && tookMs < 3000, `took ${String(Math.round(tookMs))} ms`);
  });

  it('refuses a refusedWaitMs that is no wait', async () => {
    for (const bad of [-1, Number.NaN, '100'])
      await assert.rejects(kv.cluster(closed, { refusedWaitMs: bad as number }), (e: DistkvError) => {
        assert.equal(e.code, 'INVALID_ARGUMENT');
        assert.match(e.message, /refusedWaitMs must be a number of ms, 0 or more/);
        return true;
      });
  });
});
