/**
 * The memtable tells two keys with the same hash apart by their bytes (Memtable.keyIsBytes, four
 * bytes to a step). Filed under one forced hash through `applyHashed`, keys of every length from 1
 * to 40 bytes that differ from a stored key in a single byte, at every position (inside a step and
 * in the tail), must each get an entry of their own, and the stored key itself must not.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Memtable } from '../../src/storage/memtable.js';

const FORCED_HASH = 7;

describe('Memtable key comparison', () => {
  it('tells apart keys that share a hash and differ in one byte at any position', () => {
    const value = Buffer.from('v');
    for (let len = 1; len <= 40; len++) {
      const m = new Memtable();
      const key = Buffer.alloc(len);
      for (let i = 0; i < len; i++) key[i] = (i * 37 + len) & 0xff;
      let seq = 1;
      m.applyHashed(FORCED_HASH, key, 0, len, seq++, value, 0, 1, 0);
      // The same bytes at another offset of a larger buffer are the same key.
      const padded = Buffer.concat([Buffer.from([1, 2, 3]), key, Buffer.from([9])]);
      m.applyHashed(FORCED_HASH, padded, 3, 3 + len, seq++, value, 0, 1, 0);
      assert.equal(m.size, 1, `length ${len}: the same key got a second entry`);
      for (let at = 0; at < len; at++) {
        const other = Buffer.from(key);
        other[at] = other[at]! ^ 0x80;
        m.applyHashed(FORCED_HASH, other, 0, len, seq++, value, 0, 1, 0);
        assert.equal(
          m.size,
          2 + at,
          `length ${len}: a key differing at byte ${at} was taken for the stored one`,
        );
      }
    }
  });
});
