/**
 * The `from` / cursor syntax of watch (src/watch/watch-cursor.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatCursor, parseFrom, startOf } from '../../src/watch/watch-cursor.js';

describe('watch cursor', () => {
  it('reads per-shard versions, a default version and now', () => {
    const spec = parseFrom('0:0.120,3:2.7,1.5');
    assert.deepEqual(startOf(spec, 0), { epoch: 0, seq: 120 });
    assert.deepEqual(startOf(spec, 3), { epoch: 2, seq: 7 });
    assert.deepEqual(startOf(spec, 1), { epoch: 1, seq: 5 });
    assert.equal(startOf(parseFrom(''), 4), 'now');
    assert.equal(startOf(parseFrom('0:now,0.9'), 0), 'now');
  });

  it('round-trips a cursor', () => {
    const m = new Map([
      [2, { epoch: 1, seq: 9 }],
      [0, { epoch: 0, seq: 3 }],
    ]);
    const text = formatCursor(m);
    assert.equal(text, '0:0.3,2:1.9');
    assert.deepEqual(parseFrom(text).shards, new Map([...m].sort((a, b) => a[0] - b[0])));
  });

  it('refuses malformed items naming them', () => {
    assert.throws(() => parseFrom('0:abc'), /from item "0:abc"/);
    assert.throws(() => parseFrom('x:0.1'), /no shard number/);
    assert.throws(() => parseFrom('5'), /from item "5"/);
  });

  it('refuses a shard named twice, or two items for every other shard, rather than keep one of them', () => {
    assert.throws(() => parseFrom('1:0.5,1:0.6'), /shard 1 twice/);
    assert.throws(() => parseFrom('1:0.5,1:now'), /shard 1 twice/);
    assert.throws(() => parseFrom('0.5,now'), /two items for every other shard/);
    assert.throws(() => parseFrom('now,now'), /two items for every other shard/);
    assert.deepEqual(parseFrom('1:0.5,0.6').shards, new Map([[1, { epoch: 0, seq: 5 }]]));
  });
});
