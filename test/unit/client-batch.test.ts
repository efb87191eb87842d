/**
 * batch() on the wire: requests stay under the server's limits (1000 operations, about 4 MiB of
 * values each) without reordering an owner's operations, values of any bytes travel as base64,
 * and a result the server did not send is an error, not a silent success.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { batchResult, chunks, wireOp } from '../../src/client/batch-wire.js';
import type { BatchOp } from '../../src/client/types.js';

describe('client batch wire', () => {
  it('splits by operation count and by bytes, keeping the order', () => {
    const small: BatchOp[] = Array.from({ length: 2500 }, (_, i) => ({ op: 'delete', key: `k${i}` }));
    const parts = [
      ...chunks(
        small.map((_, i) => i),
        small,
      ),
    ];
    assert.deepEqual(
      parts.map((p) => p.length),
      [1000, 1000, 500],
    );
    assert.deepEqual(
      parts.flat(),
      small.map((_, i) => i),
    );
    const big: BatchOp[] = Array.from({ length: 5 }, (_, i) => ({
      op: 'set',
      key: `b${i}`,
      value: Buffer.alloc(1500 * 1024),
    }));
    assert.deepEqual([...chunks([0, 1, 2, 3, 4], big)], [[0, 1], [2, 3], [4]]);
    const huge: BatchOp[] = [{ op: 'set', key: 'h', value: Buffer.alloc(5 * 1024 * 1024) }];
    assert.deepEqual([...chunks([0], huge)], [[0]], 'one operation over the byte budget still goes alone');
  });

  it('sends values as base64 and rebuilds typed errors', () => {
    assert.deepEqual(wireOp({ op: 'set', key: 'k', value: Buffer.from([0, 255]) }), {
      op: 'set',
      key: 'k',
      value_base64: 'AP8=',
    });
    assert.deepEqual(wireOp({ op: 'set', key: 'k', value: 'é' }), {
      op: 'set',
      key: 'k',
      value_base64: 'w6k=',
    });
    const failed = batchResult(
      { ok: false, error: { code: 'VALUE_TOO_LARGE', message: 'too big' } },
      'n:1',
      0,
    );
    assert.ok(!failed.ok && failed.error.code === 'VALUE_TOO_LARGE' && failed.error.status === 413);
    const missing = batchResult(undefined, 'n:1', 7);
    assert.ok(
      !missing.ok && missing.error.code === 'INTERNAL' && missing.error.message.includes('operation 7'),
    );
  });
});
