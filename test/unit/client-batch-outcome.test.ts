/**
 * A batch without conditions: an operation a node forwarded to an owner that did not answer comes
 * back as its result OUTCOME_UNKNOWN (src/http/conditional-batch.ts: it may have been applied).
 * The client returned it as a plain DistkvError, where a batch with conditions so forwarded (a 503
 * OUTCOME_UNKNOWN) rejects with an OutcomeUnknownError, and went on sending the owner's later
 * chunks, which could overtake it. It is now an OutcomeUnknownError too, nothing is sent again,
 * and the owner's later chunks are reported not sent, as after a chunk whose connection was lost.
 * The node is a one-shard twin that answers the first operation of each batch OUTCOME_UNKNOWN.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { OutcomeUnknownError } from '../../src/errors.js';
import { type HandlerTwin, startOneShardTwin } from '../helpers/twin-server.js';

const MESSAGE =
  'shard 0 (owner 127.0.0.1:1) did not answer: timeout; the operations sent to it may have been applied';
let node: HandlerTwin;
/** batches are the operation counts of the batch requests the node got. */
const batches: number[] = [];

before(async () => {
  node = await startOneShardTwin((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d));
    req.on('end', () => {
      const ops = JSON.parse(body) as unknown[];
      batches.push(ops.length);
      const results = ops.map((_, i) =>
        i === 0 ? { ok: false, error: { code: 'OUTCOME_UNKNOWN', message: MESSAGE } } : { ok: true },
      );
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ results }));
    });
  });
});

after(() => node.stop());

describe('a batch operation a node forwarded to an owner that did not answer', () => {
  it('is an OutcomeUnknownError, never sent again, and the later chunks are not sent', async () => {
    const client = new DistkvClient({ urls: [`http://${node.address}`] });
    try {
      // 1000 operations a request (batch-wire.ts): two chunks for the one owner.
      const ops = Array.from({ length: 1001 }, (_, i) => ({ op: 'set' as const, key: `k${i}`, value: 'v' }));
      const results = await client.batch(ops);
      assert.deepEqual(batches, [1000], 'one request, never the second chunk nor a repeat');
      const first = results[0]!;
      assert.ok(!first.ok && first.error instanceof OutcomeUnknownError, String(!first.ok && first.error));
      assert.equal(first.error.message, MESSAGE);
      assert.ok(results.slice(1, 1000).every((r) => r.ok));
      const last = results[1000]!;
      assert.ok(!last.ok && !(last.error instanceof OutcomeUnknownError));
      assert.equal(last.error.code, 'OUTCOME_UNKNOWN');
      assert.match(last.error.message, /^not sent: an earlier request of this batch/);
    } finally {
      await client.close();
    }
  });
});
