/**
 * `distkv get --w N --timeout-ms T` (a read concern, docs/api.md "Write concern and what reads
 * see") sends `w` and `timeout_ms` with the read, after checking --w against the replicas of the
 * key's shard as set and del do; --timeout-ms without --w, and --w with --replica (a read with w
 * is the leader's), are usage errors, nothing sent. On the old code get took neither option.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/server-process.js';
import { type HandlerTwin, startRecordingTwin } from '../helpers/twin-server.js';

let node: HandlerTwin;
let sent: string[];

before(async () => {
  // One replica in the map (never called): w may be 0 or 1.
  ({ node, sent } = await startRecordingTwin({ etag: '"0.1"' }, ['127.0.0.1:1']));
});

after(async () => {
  await node.stop();
});

describe('distkv get --w', () => {
  it('sends w and timeout_ms with the read', async () => {
    sent.length = 0;
    const r = await runCli(['get', 'k', '--w', '1', '--timeout-ms', '700', '--url', node.address]);
    assert.equal(r.code, 0, r.stderr);
    const plain = await runCli(['get', 'k', '--url', node.address]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.deepEqual(sent, ['GET /kv/k?w=1&timeout_ms=700', 'GET /kv/k']);
  });

  it('refuses a --w outside 0..replicas, --timeout-ms alone and --w with --replica, nothing sent', async () => {
    sent.length = 0;
    for (const bad of ['-1', '2', 'abc']) {
      const r = await runCli(['get', 'k', '--w', bad, '--url', node.address]);
      assert.equal(r.code, 2, `${bad}: ${r.stderr}`);
      assert.ok(
        r.stderr.startsWith(
          `distkv get: --w must be an integer in 0..1 (the replicas of shard-0, the key's shard), got ${JSON.stringify(bad)}\n`,
        ),
        `${bad}: ${r.stderr}`,
      );
    }
    const alone = await runCli(['get', 'k', '--timeout-ms', '700', '--url', node.address]);
    assert.equal(alone.code, 2, alone.stderr);
    assert.match(alone.stderr, /--timeout-ms bounds the wait for --w/);
    const replica = await runCli(['get', 'k', '--w', '1', '--replica', '--url', node.address]);
    assert.equal(replica.code, 2, replica.stderr);
    assert.match(replica.stderr, /give --replica or --w/);
    assert.deepEqual(sent, []);
  });
});
