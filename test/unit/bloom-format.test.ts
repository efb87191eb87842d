/**
 * The bloom filter's binary form stays what runs on disk hold (docs/sstable-format.md, "Bloom
 * filter"). KeyBloom used the bloom-filters package for sizing, bit set and add until its own few
 * lines replaced it (the package cost ~100 ms of each worker's start); a run written before must
 * read the same. The digests below were taken from the package-based KeyBloom: filters of n keys
 * `key:0`..`key:n-1` at the store's rate, encoded; each is also checked against the package's
 * own sizing, which the format names.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import bloomFilters from 'bloom-filters';
import { KeyBloom } from '../../src/storage/bloom.js';

/** DIGESTS are [n, encoded bytes, the encoding's sha256 (first 16 hex digits)] from the package-based KeyBloom. */
const DIGESTS: [number, number, string][] = [
  [1, 10, '2afae0685f7e1b09'],
  [7, 17, '286f82d90707153d'],
  [100, 128, '47d7004814d83875'],
  [1000, 1207, 'a35c02ef0140271b'],
  [50000, 59915, 'af509c89ce465a6a'],
];

describe('bloom filter binary form', () => {
  it('encodes the filters the package-based KeyBloom encoded, byte for byte', () => {
    for (const [n, bytes, digest] of DIGESTS) {
      const f = KeyBloom.create(n, 0.01);
      for (let i = 0; i < n; i++) f.add(`key:${i}`);
      const e = f.encode();
      assert.equal(e.length, bytes, `n=${n}: encoded length`);
      assert.equal(createHash('sha256').update(e).digest('hex').slice(0, 16), digest, `n=${n}: encoding`);
      const decoded = KeyBloom.decode(e);
      for (let i = 0; i < n; i++)
        assert.ok(decoded.mayHave(`key:${i}`), `n=${n}: key:${i} found after decode`);
      assert.deepEqual(decoded.encode(), e, `n=${n}: decode then encode gives the same bytes`);
    }
  });

  it('sizes a filter as the package does: m bits, k hashes, ceil(m / 8) bytes of bit set', () => {
    for (const n of [1, 2, 3, 7, 100, 999, 1000, 65536, 1_000_000]) {
      const pkg = bloomFilters.BloomFilter.create(n, 0.01) as unknown as {
        _size: number;
        _nbHashes: number;
        _filter: { array: Uint8Array };
      };
      const e = KeyBloom.create(n, 0.01).encode();
      assert.deepEqual(
        [e.readUInt32LE(0), e[4], e.length - 8],
        [pkg._size, pkg._nbHashes, pkg._filter.array.length],
        `n=${n}`,
      );
    }
  });

  it('refuses a bitmap whose length does not match its size, and a filter of no hashes', () => {
    const e = KeyBloom.create(100, 0.01).encode();
    assert.throws(
      () => KeyBloom.decode(e.subarray(0, e.length - 1)),
      /bloom bitmap is 119 bytes; expected 120/,
    );
    const none = Buffer.from(e);
    none[4] = 0;
    assert.throws(() => KeyBloom.decode(none), /0 hashes/);
  });
});
