/**
 * SCAN cursor numbers and the positions they stand for (src/resp/scan-cursors.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_CURSORS, ScanCursors } from '../../src/resp/scan-cursors.js';

describe('ScanCursors', () => {
  it('answers a cursor sent again (a retried SCAN) with the same position', () => {
    const cursors = new ScanCursors();
    const id = cursors.save({ shard: 1, after: Buffer.from('k9') });
    assert.deepEqual(cursors.take(id), { shard: 1, after: Buffer.from('k9') });
    assert.deepEqual(cursors.take(id), { shard: 1, after: Buffer.from('k9') }, 'the retry finds it');
  });

  it('forgets the least recently used cursor past MAX_CURSORS, keeping one that was just used', () => {
    const cursors = new ScanCursors();
    const first = cursors.save({ shard: 0, after: Buffer.from('a') });
    const second = cursors.save({ shard: 0, after: Buffer.from('b') });
    assert.ok(cursors.take(first) !== undefined);
    for (let i = 0; i < MAX_CURSORS - 1; i++) cursors.save({ shard: 0, after: Buffer.from(`x${i}`) });
    assert.equal(cursors.take(second), undefined, 'the oldest is forgotten');
    assert.deepEqual(
      cursors.take(first),
      { shard: 0, after: Buffer.from('a') },
      'a used cursor counts as new',
    );
    assert.deepEqual(cursors.take(0), { shard: 0, after: undefined });
    assert.equal(cursors.take(987654321), undefined);
  });
});
