import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crc32c } from '../../src/storage/crc32c.js';

describe('crc32c', () => {
  it('matches the published CRC-32C check values', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
    assert.equal(crc32c(Buffer.alloc(32, 0)), 0x8a9136aa);
    assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
    assert.equal(crc32c(Buffer.from([])), 0);
  });

  it('gives the same result computed in pieces as in one go', () => {
    const b = Buffer.from('The quick brown fox jumps over the lazy dog, twice over.');
    for (const cut of [0, 1, 7, 8, 9, 30, b.length]) {
      assert.equal(crc32c(b, cut, b.length, crc32c(b, 0, cut)), crc32c(b));
    }
  });
});
