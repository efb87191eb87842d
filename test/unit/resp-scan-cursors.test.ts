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

  it("keeps only the bytes of a position's key, not the buffer it was a view of", () => {
    // A key as the worker's scan answer holds it (a view of the whole answer), or as Buffer.from
    // copies it (a view of Node's shared 8 KiB pool): a remembered view pinned that whole buffer,
    // up to MAX_CURSORS of them per listener.
    const answer = Buffer.alloc(64 * 1024, 0x61);
    const cursors = new ScanCursors();
    const ids = [0, 1, 2].map((i) =>
      cursors.save({ shard: 0, after: answer.subarray(i * 100, i * 100 + 5) }),
    );
    const pooled = cursors.save({ shard: 1, after: Buffer.from('pooled') });
    for (const id of [...ids, pooled]) {
      const after = cursors.take(id)!.after!;
      assert.equal(
        after.buffer.byteLength,
        after.length,
        `cursor ${id} holds ${after.buffer.byteLength} bytes for a key of ${after.length}`,
      );
    }
    answer.fill(0x62);
    assert.deepEqual(
      cursors.take(ids[0]!)!.after,
      Buffer.from('aaaaa'),
      'a copy: the buffer it came from may be reused',
    );
  });
});
