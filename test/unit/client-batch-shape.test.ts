/**
 * `batch()` from JavaScript, where the types do not hold: an operation whose `op` is neither "set"
 * nor "delete" was sent as a set (a `{ op: 'put', key, value }` wrote the key; `{ op: 'Delete' }`
 * threw a TypeError from Buffer.from), and a set without a value threw that TypeError too. Both
 * are INVALID_ARGUMENT naming the operation, before anything is sent.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import type { BatchOp } from '../../src/client/types.js';
import { DistkvError } from '../../src/errors.js';
import { type HandlerTwin, startOneShardTwin } from '../helpers/twin-server.js';

/** sent counts the batch requests the node got. */
let sent = 0;
let node: HandlerTwin;

before(async () => {
  node = await startOneShardTwin((req, res) => {
    sent++;
    req.resume().on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"results":[{"ok":true}],"errors":0}');
    });
  });
});

after(async () => {
  await node.stop();
});

describe('a batch operation of a shape the types forbid', () => {
  it('is refused with INVALID_ARGUMENT naming the operation, nothing sent', async () => {
    const client = new DistkvClient({ urls: [node.address], retries: 0 });
    try {
      const bad: [unknown, RegExp][] = [
        [{ op: 'put', key: 'a', value: 'x' }, /batch operation 0: op must be "set" or "delete", got "put"/],
        [{ op: 'Delete', key: 'a' }, /op must be "set" or "delete", got "Delete"/],
        [{ op: undefined, key: 'a' }, /op must be "set" or "delete", got undefined/],
        [{ op: 'set', key: 'a' }, /a set needs a value, a string or bytes .*got undefined/],
        [{ op: 'set', key: 'a', value: 5 }, /got number/],
        [{ op: 'set', key: 'a', value: null }, /got null/],
      ];
      for (const [op, pattern] of bad) {
        await assert.rejects(client.batch([op as BatchOp]), (err: unknown) => {
          assert.ok(err instanceof DistkvError, String(err));
          assert.equal(err.code, 'INVALID_ARGUMENT');
          assert.match(err.message, pattern);
          return true;
        });
      }
      assert.equal(sent, 0);
      assert.deepEqual(await client.batch([{ op: 'set', key: 'a', value: Buffer.from('x') }]), [
        { ok: true },
      ]);
      assert.equal(sent, 1);
    } finally {
      await client.close();
    }
  });
});
