/**
 * `distkv set/del --w N` is checked against the replicas of the key's shard, with one message for
 * every value refused, before anything is written. "-1" and "abc" were "--w must be a
 * non-negative integer" (no bound) and "5" the node's "INVALID_ARGUMENT: w must be an integer in
 * 0..1" (another name, another shape), so a user met two answers for one mistake.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/server-process.js';
import { type HandlerTwin, startRecordingTwin } from '../helpers/twin-server.js';

let node: HandlerTwin;
let sent: string[];

before(async () => {
  // One replica in the map (never called): w may be 0 or 1.
  ({ node, sent } = await startRecordingTwin({ etag: '"0.1"', 'x-distkv-existed': '1' }, ['127.0.0.1:1']));
});

after(async () => {
  await node.stop();
});

describe('distkv set and del --w', () => {
  for (const [verb, args] of [
    ['set', ['set', 'k', 'v']],
    ['del', ['del', 'k']],
  ] as const)
    it(`${verb} refuses every --w outside 0..replicas with one message naming the bound, nothing sent`, async () => {
      for (const bad of ['-1', '2', '5', 'abc', '1.5', '', '99999999999999999999']) {
        sent.length = 0;
        const r = await runCli([...args, '--w', bad, '--url', node.address]);
        assert.equal(r.code, 2, `${bad}: ${r.stderr}`);
        assert.ok(
          r.stderr.startsWith(
            `distkv ${verb}: --w must be an integer in 0..1 (the replicas of shard-0, the key's shard), got ${JSON.stringify(bad)}\n`,
          ),
          `${bad}: ${r.stderr}`,
        );
        assert.deepEqual(sent, [], bad);
      }
    });

  it('sends a --w within the replicas', async () => {
    sent.length = 0;
    const set = await runCli(['set', 'k', 'v', '--w', '1', '--url', node.address]);
    assert.equal(set.code, 0, set.stderr);
    const del = await runCli(['del', 'k', '--w', '0', '--url', node.address]);
    assert.equal(del.code, 0, del.stderr);
    assert.deepEqual(sent, ['PUT /kv/k?w=1', 'DELETE /kv/k?w=0']);
  });
});
