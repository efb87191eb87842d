import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crc32c } from '../../src/storage/crc32c.js';
import { seededRandom, testSeed } from '../helpers/random.js';

/** bitwise is CRC-32C one bit at a time: the definition the table-driven crc32c must match. */
function bitwise(b: Uint8Array, start: number, end: number, crc: number): number {
  let c = ~crc >>> 0;
  for (let i = start; i < end; i++) {
    c ^= b[i]!;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

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

  it('matches the bitwise definition at any offset, length (0..300) and starting crc', () => {
    const seed = testSeed();
    const random = seededRandom(seed);
    const b = Buffer.alloc(512);
    for (let i = 0; i < b.length; i++) b[i] = Math.floor(random() * 256);
    for (let n = 0; n < 2000; n++) {
      const start = Math.floor(random() * 200);
      const end = start + Math.floor(random() * 301);
      // Starting crcs above 2^31 too: a continued checksum is an unsigned 32-bit value.
      const from = n % 2 === 0 ? 0 : Math.floor(random() * 2 ** 32);
      assert.equal(
        crc32c(b, start, end, from),
        bitwise(b, start, end, from),
        `DISTKV_SEED=${seed} at ${start}..${end} from ${from}`,
      );
    }
  });
});
