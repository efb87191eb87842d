/**
 * `distkv get/set/del --w N` at a key whose shard has no replicas: w can only be 0, and the refusal
 * said "--w must be an integer in 0..0", which read as a wrong bound. It now says the shard has no
 * replicas to wait for (exit 2, nothing sent); --w 0 is sent as before.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/server-process.js';
import { type HandlerTwin, startRecordingTwin } from '../helpers/twin-server.js';

let node: HandlerTwin;
let sent: string[];

before(async () => {
  // No replica in the map: w may only be 0.
  ({ node, sent } = await startRecordingTwin({ etag: '"0.1"', 'x-distkv-existed': '1' }));
});

after(async () => {
  await node.stop();
});

describe('--w at a shard without replicas', () => {
  it('is refused saying the shard has no replicas, not "0..0", nothing sent', async () => {
    for (const [verb, args] of [
      ['get', ['get', 'k']],
      ['set', ['set', 'k', 'v']],
      ['del', ['del', 'k']],
    ] as const) {
      sent.length = 0;
      const r = await runCli([...args, '--w', '1', '--url', node.address]);
      assert.equal(r.code, 2, `${verb}: ${r.stderr}`);
      assert.ok(
        r.stderr.startsWith(
          `distkv ${verb}: --w must be 0, got "1": shard-0, the key's shard, has no replicas to wait for\n`,
        ),
        `${verb}: ${r.stderr}`,
      );
      assert.deepEqual(sent, [], verb);
    }
  });

  it('sends --w 0', async () => {
    sent.length = 0;
    const set = await runCli(['set', 'k', 'v', '--w', '0', '--url', node.address]);
    assert.equal(set.code, 0, set.stderr);
    assert.deepEqual(sent, ['PUT /kv/k?w=0']);
  });
});
