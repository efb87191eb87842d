/**
 * The client library called from JavaScript (no types to stop it) with a key, value, prefix or
 * batch that is neither text nor bytes: each call rejects with a DistkvError naming what it got,
 * before anything is sent. A forgotten value (`put('k', undefined)`) was stored as an empty one; a
 * number was sent, failed inside undici, and came back as OutcomeUnknownError "the PUT may have
 * been applied"; a null key or prefix and a batch that is no array threw bare TypeErrors.
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
describe('client calls given what is neither text nor bytes', () => {
  it('refuse with INVALID_KEY or INVALID_ARGUMENT naming the input, nothing sent', async () => {
    const kv = new DistkvClient({ urls: [node.address], retries: 0 });
    try {
      const cases: [string, () => Promise<unknown>, string, RegExp][] = [
        [
          'put a forgotten value',
          () => kv.put('k', undefined as never),
          'INVALID_ARGUMENT',
          /^value .* got undefined$/,
        ],
        ['put a number', () => kv.put('k', 42 as never), 'INVALID_ARGUMENT', /^value .* got number$/],
        [
          'putVersioned null',
          () => kv.putVersioned('k', null as never),
          'INVALID_ARGUMENT',
          /^value .* got null$/,
        ],
        ['put with a null key', () => kv.put(null as never, 'v'), 'INVALID_KEY', /^key .* got null$/],
        ['get with a number key', () => kv.get(7 as never), 'INVALID_KEY', /^key .* got number$/],
        ['delete with an object key', () => kv.delete({} as never), 'INVALID_KEY', /^key .* got object$/],
        [
          'scanPage with a null prefix',
          () => kv.scanPage(null as never),
          'INVALID_ARGUMENT',
          /^prefix .* got null$/,
        ],
        [
          'scanPage after a number',
          () => kv.scanPage('', { after: 3 as never }),
          'INVALID_ARGUMENT',
          /^after .* got number$/,
        ],
        [
          'batch that is no array',
          () => kv.batch('ops' as never),
          'INVALID_ARGUMENT',
          /^a batch is an array of operations, got string$/,
        ],
        [
          'batch with a null key',
          () => kv.batch([{ op: 'set', key: null, value: 'v' } as never]),
          'INVALID_KEY',
          /^batch operation 0: key must be a string .* got null$/,
        ],
        [
          'watch a null prefix',
          () => kv.watch(null as never).next(),
          'INVALID_ARGUMENT',
          /^prefix .* got null$/,
        ],
      ];
      for (const [what, call, code, message] of cases) {
        sent.length = 0;
        await assert.rejects(call(), (err: unknown) => {
          assert.ok(err instanceof DistkvError, `${what}: ${String(err)}`);
          assert.equal(err.code, code, what);
          assert.match(err.message, message, what);
          return true;
        });
        assert.deepEqual(sent, [], what);
      }
      // Text and bytes go through as before.
      assert.equal(await kv.put('k', 'v'), 1);
      assert.equal(await kv.put(Buffer.from([0x6b, 0xff]), Buffer.from([1])), 1);
      assert.deepEqual(sent, ['PUT /kv/k', 'PUT /kv/k%FF']);
    } finally {
      await kv.close();
    }
  });
});
