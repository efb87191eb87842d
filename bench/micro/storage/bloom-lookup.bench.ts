/**
 * Measures: one bloom-filter lookup, `KeyBloom.mayHave(key)` (src/storage/bloom.ts), the check every
 * SSTable run does before touching a block. The filter holds 100k 16-byte latin1 keys, sized at
 * BLOOM_FP_RATE; lookups are of a present key and of an absent one (about 1% of absent keys are
 * false positives). For comparison, the bloom-filters package's own BloomFilter, same size and
 * keys, with its default hashing, `has(key)` on the same string keys.
 */
import bloomFilters from 'bloom-filters';
import { bench, do_not_optimize, run, summary } from 'mitata';
import { KeyBloom } from '../../../src/storage/bloom.js';
import { BLOOM_FP_RATE } from '../../../src/storage/sstable-format.js';
import { printHeader } from '../header.js';
import { STORED_N, storedKey } from './stored-keys.js';

// bloom-filters is CommonJS: its named exports are not visible to Node's ESM loader.
const { BloomFilter } = bloomFilters;

printHeader('storage/bloom-lookup');
const N = STORED_N;
const present = Array.from({ length: 1024 }, (_, i) => storedKey(2 * ((i * 7919) % N)));
const absent = Array.from({ length: 1024 }, (_, i) => storedKey(2 * ((i * 7919) % N) + 1));

const fast = KeyBloom.create(N, BLOOM_FP_RATE);
const pkg = BloomFilter.create(N, BLOOM_FP_RATE);
for (let n = 0; n < N; n++) {
  const k = storedKey(2 * n);
  fast.add(k);
  pkg.add(k);
}
let i = 0;

summary(() => {
  bench('KeyBloom.mayHave (present key)', () => {
    do_not_optimize(fast.mayHave(present[i++ & 1023]!));
  });
  bench('bloom-filters BloomFilter.has, default hashing (present key)', () => {
    do_not_optimize(pkg.has(present[i++ & 1023]!));
  });
});

summary(() => {
  bench('KeyBloom.mayHave (absent key)', () => {
    do_not_optimize(fast.mayHave(absent[i++ & 1023]!));
  });
  bench('bloom-filters BloomFilter.has, default hashing (absent key)', () => {
    do_not_optimize(pkg.has(absent[i++ & 1023]!));
  });
});

await run();
