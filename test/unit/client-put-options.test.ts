/**
 * A put's `timeoutMs` bounds only its wait for `w` (a node reads `timeout_ms` only with `w`): given
 * alone it used to be dropped without a word, so a caller who meant "give up after T ms" got no
 * bound at all. The client refuses it before sending anything; with `w` it is sent as `timeout_ms`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { DistkvError } from '../../src/errors.js';
import { runCli } from '../helpers/server-process.js';
import { type HandlerTwin, startOneShardTwin } from '../helpers/twin-server.js';

/** sent are the targets of the key requests the node got. */
const sent: string[] = [];
let node: HandlerTwin;

before(async () => {
  node = await startOneShardTwin((req, res) => {
    sent.push(req.url ?? '');
    req.resume().on('end', () => res.writeHead(204).end());
  });
});

after(async () => {
  await node.stop();
});

describe('put timeoutMs', () => {
  it('is refused without w (INVALID_ARGUMENT naming it), nothing sent', async () => {
    sent.length = 0;
    const client = new DistkvClient({ urls: [node.address], retries: 0 });
    try {
      await assert.rejects(client.put('k', 'v', { timeoutMs: 100 }), (err: unknown) => {
        assert.ok(err instanceof DistkvError, String(err));
        assert.equal(err.code, 'INVALID_ARGUMENT');
        assert.match(err.message, /timeoutMs .* without w/);
        return true;
      });
      assert.deepEqual(sent, []);
      await client.put('k', 'v', { w: 0, timeoutMs: 100 });
      await client.put('k', 'v');
      assert.deepEqual(sent, ['/kv/k?w=0&timeout_ms=100', '/kv/k']);
    } finally {
      await client.close();
    }
  });

  it('the CLI set with --timeout-ms and no --w exits 2 (a usage mistake) saying so, nothing sent', async () => {
    sent.length = 0;
    const r = await runCli(['set', 'k', 'v', '--timeout-ms', '100', '--url', node.address]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--timeout-ms bounds the wait for --w and is given without --w/);
    assert.deepEqual(sent, []);
  });
});
