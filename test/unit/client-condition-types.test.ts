/**
 * Write conditions of the wrong type, from JavaScript (no types to stop it): each call rejects with
 * INVALID_ARGUMENT naming the option and what it got, before anything is sent. A put with
 * `ifNoneMatch: 'yes'` (or 1) dropped the condition and overwrote the key it was meant not to
 * touch; a batch took any truthy `ifNoneMatch` ("false" too) as true; an `ifMatch` that is not a
 * string threw a bare TypeError ("text.trim is not a function", "op.ifMatch.replace ...").
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { DistkvError } from '../../src/errors.js';
import { type HandlerTwin, startRecordingTwin } from '../helpers/twin-server.js';

let node: HandlerTwin;
let sent: string[];

before(async () => {
  ({ node, sent } = await startRecordingTwin({ etag: '"0.1"', 'x-distkv-seq': '1' }));
});

after(async () => {
  await node.stop();
});

// `as never` passes what JavaScript would, past the types.
describe('write conditions of the wrong type', () => {
  it('are refused with INVALID_ARGUMENT naming the option, nothing sent', async () => {
    const kv = new DistkvClient({ urls: [node.address], retries: 0 });
    try {
      const cases: [string, () => Promise<unknown>, RegExp][] = [
        [
          'put ifNoneMatch "yes"',
          () => kv.put('k', 'v', { ifNoneMatch: 'yes' as never }),
          /^ifNoneMatch must be true .* or false, got "yes"$/,
        ],
        [
          'put ifNoneMatch 1',
          () => kv.put('k', 'v', { ifNoneMatch: 1 as never }),
          /^ifNoneMatch must be true .* got 1 \(a number\)$/,
        ],
        [
          'putVersioned ifNoneMatch null',
          () => kv.putVersioned('k', 'v', { ifNoneMatch: null as never }),
          /^ifNoneMatch must be true .* got null$/,
        ],
        [
          'put ifMatch a number',
          () => kv.put('k', 'v', { ifMatch: 5 as never }),
          /^ifMatch must be a version E\.S as a string .* got 5 \(a number\)$/,
        ],
        [
          'delete ifMatch an object',
          () => kv.delete('k', { ifMatch: {} as never }),
          /^ifMatch must be a version .* got an object$/,
        ],
        [
          'batch set ifNoneMatch "false"',
          () => kv.batch([{ op: 'set', key: 'k', value: 'v', ifNoneMatch: 'false' as never }]),
          /^batch operation 0: ifNoneMatch must be true .* got "false"$/,
        ],
        [
          'batch delete ifMatch a number',
          () =>
            kv.batch([
              { op: 'delete', key: 'j' },
              { op: 'delete', key: 'k', ifMatch: 7 as never },
            ]),
          /^batch operation 1: ifMatch must be a version .* got 7 \(a number\)$/,
        ],
      ];
      for (const [what, call, message] of cases) {
        sent.length = 0;
        await assert.rejects(call(), (err: unknown) => {
          assert.ok(err instanceof DistkvError, `${what}: ${String(err)}`);
          assert.equal(err.code, 'INVALID_ARGUMENT', what);
          assert.match(err.message, message, what);
          return true;
        });
        assert.deepEqual(sent, [], what);
      }
      // Booleans and strings go through as before (false: no condition).
      sent.length = 0;
      assert.equal(await kv.put('k', 'v', { ifNoneMatch: false }), 1);
      assert.equal(await kv.put('k', 'v', { ifNoneMatch: true }), 1);
      assert.equal(await kv.put('k', 'v', { ifMatch: '0.1' }), 1);
      assert.deepEqual(sent, ['PUT /kv/k', 'PUT /kv/k', 'PUT /kv/k']);
    } finally {
      await kv.close();
    }
  });
});
