/**
 * The options of a DistkvClient call, from JavaScript (no types to stop it): one the call does not
 * take (misspelt, or another call's), options that are no object, or a signal that is no
 * AbortSignal reject with INVALID_ARGUMENT naming the call and the option, nothing sent. They were
 * ignored: `put(k, v, { ttl: 60000 })` stored a key that never expires and `{ if_match: v }`
 * overwrote the key whatever it held; `put(k, v, null)` threw a bare TypeError. So does a batch
 * operation with a field it does not have (`ttl` for `ttlMs` was dropped), or one that is null.
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
describe('call options the call does not take', () => {
  it('are refused with INVALID_ARGUMENT naming the call and the option, nothing sent', async () => {
    const kv = new DistkvClient({ urls: [node.address], retries: 0 });
    try {
      const cases: [string, () => Promise<unknown>, RegExp][] = [
        [
          'put ttl',
          () => kv.put('k', 'v', { ttl: 60000 } as never),
          /^put has no option "ttl" \(its options: signal, w, timeoutMs, ttlMs, expiresAtMs, ifMatch, ifNoneMatch\)$/,
        ],
        [
          'putVersioned if_match',
          () => kv.putVersioned('k', 'v', { if_match: '0.1' } as never),
          /^putVersioned has no option "if_match"/,
        ],
        ['put null', () => kv.put('k', 'v', null as never), /^put takes its options as an object, got null$/],
        ['get ttlMs', () => kv.get('k', { ttlMs: 5 } as never), /^get has no option "ttlMs"/],
        [
          'getString a string',
          () => kv.getString('k', 'w=1' as never),
          /^get takes its options as an object, got string$/,
        ],
        [
          'getVersioned timeout',
          () => kv.getVersioned('k', { timeout: 5 } as never),
          /^getVersioned has no option "timeout"/,
        ],
        [
          'delete ifNoneMatch',
          () => kv.delete('k', { ifNoneMatch: true } as never),
          /^delete has no option "ifNoneMatch"/,
        ],
        [
          'scanPage pageSize',
          () => kv.scanPage('p', { pageSize: 5 } as never),
          /^scanPage has no option "pageSize"/,
        ],
        ['scan limit', () => kv.scan('p', { limit: 5 } as never).next(), /^scan has no option "limit"/],
        [
          'batch w',
          () => kv.batch([{ op: 'delete', key: 'k' }], { w: 1 } as never),
          /^batch has no option "w"/,
        ],
        [
          'get signal',
          () => kv.get('k', { signal: 5 } as never),
          /^get option signal must be an AbortSignal, got number$/,
        ],
        [
          'batch set ttl',
          () => kv.batch([{ op: 'set', key: 'k', value: 'v', ttl: 60000 } as never]),
          /^batch operation 0: a set has no field "ttl" \(its fields: op, key, value, ttlMs, expiresAtMs, ifMatch, ifNoneMatch\)$/,
        ],
        [
          'batch delete value',
          () => kv.batch([{ op: 'delete', key: 'k', value: 'v' } as never]),
          /^batch operation 0: a delete has no field "value"/,
        ],
        [
          'batch null operation',
          () => kv.batch([{ op: 'delete', key: 'j' }, null as never]),
          /^batch operation 1 must be an object \(\{ op, key, \.\.\. \}\), got null$/,
        ],
        [
          'cluster node',
          () => kv.cluster(undefined, { node: 'x' } as never),
          /^cluster has no option "node"/,
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
      // The options each call takes go through as before.
      sent.length = 0;
      assert.equal(await kv.put('k', 'v', { ttlMs: 1000, signal: new AbortController().signal }), 1);
      await kv.delete('k', { ifMatch: '0.1' });
      assert.deepEqual(sent, ['PUT /kv/k?ttl_ms=1000', 'DELETE /kv/k']);
    } finally {
      await kv.close();
    }
  });
});
