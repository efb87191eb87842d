/**
 * A delete waits for replicas as a put does: the client library's `delete(key, {w, timeoutMs})`
 * sends `?w=N&timeout_ms=T` (which nodes take on DELETE), and `distkv del --w N --timeout-ms T`
 * passes them on. Both used to take no `w` at all: `del --w 1` was "unknown option --w", and a
 * caller of `delete` had no way to know a replica held the tombstone. `timeoutMs` without `w` is
 * refused, as for a put, before anything is sent.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { DistkvError } from '../../src/errors.js';
import { runCli } from '../helpers/server-process.js';
import { type HandlerTwin, startRecordingTwin } from '../helpers/twin-server.js';

let node: HandlerTwin;
let sent: string[];

before(async () => {
  // One replica in the map (never called): `distkv del --w 1` checks w against the shard's replicas.
  ({ node, sent } = await startRecordingTwin({ 'x-distkv-existed': '1' }, ['127.0.0.1:1']));
});

after(async () => {
  await node.stop();
});

describe('delete with w', () => {
  it('sends w and timeout_ms as a put does, and nothing without them', async () => {
    sent.length = 0;
    const client = new DistkvClient({ urls: [node.address], retries: 0 });
    try {
      assert.equal(await client.delete('k', { w: 1 }), true);
      assert.equal(await client.delete('k', { w: 1, timeoutMs: 250 }), true);
      assert.equal(await client.delete('k', { w: 1, ifMatch: '0.7' }), true);
      assert.equal(await client.delete('k'), true);
      assert.deepEqual(sent, [
        'DELETE /kv/k?w=1',
        'DELETE /kv/k?w=1&timeout_ms=250',
        'DELETE /kv/k?w=1',
        'DELETE /kv/k',
      ]);
    } finally {
      await client.close();
    }
  });

  it('refuses timeoutMs without w (INVALID_ARGUMENT naming it), nothing sent', async () => {
    sent.length = 0;
    const client = new DistkvClient({ urls: [node.address], retries: 0 });
    try {
      await assert.rejects(client.delete('k', { timeoutMs: 100 }), (err: unknown) => {
        assert.ok(err instanceof DistkvError, String(err));
        assert.equal(err.code, 'INVALID_ARGUMENT');
        assert.match(err.message, /timeoutMs .* without w/);
        return true;
      });
      assert.deepEqual(sent, []);
    } finally {
      await client.close();
    }
  });

  it('the CLI del takes --w and --timeout-ms and sends them', async () => {
    sent.length = 0;
    const r = await runCli(['del', 'k', '--w', '1', '--timeout-ms', '300', '--url', node.address]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'OK (deleted)\n');
    assert.deepEqual(sent, ['DELETE /kv/k?w=1&timeout_ms=300']);
  });

  it('the CLI del with --timeout-ms and no --w exits 2 saying so, nothing sent', async () => {
    sent.length = 0;
    const r = await runCli(['del', 'k', '--timeout-ms', '100', '--url', node.address]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--timeout-ms bounds the wait for --w and is given without --w/);
    assert.deepEqual(sent, []);
  });

  it('del --help names --w', async () => {
    const r = await runCli(['del', '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /--w N\s+wait until N replicas hold the write/);
  });
});
