/**
 * Bloom filters of SSTable runs: the bloom-filters package's BloomFilter (sizing, bit set, add/has)
 * with its hashing replaced, and a binary form for the run file.
 *
 * The package hashes every element through a general-purpose 64-bit hash costing ~12 µs per lookup
 * here; `FastHashing` instead takes one 32-bit murmur3 hash of the key's bytes (keys arrive as
 * latin1 strings, one character per byte), derives a second by remixing it, picks a 512-bit block
 * with the first and places the k probes inside it with the second (a blocked bloom filter: one
 * cache line per run per lookup; see `probe`). The package keeps sizing,
 * the bit set and `add`; the read path hashes a key once (`hashKey`) and probes every run's bit set
 * with `mayHaveHash`, allocating nothing. bench/micro/storage/bloom-lookup.bench.ts measures it.
 *
 *   bloom := bits:u32 hashes:u8 reserved:u8[3] bitmap:ceil(bits/8)
 */
import bloomFilters from 'bloom-filters';
import { fmix32 } from './key-hash.js';

// bloom-filters is CommonJS whose named exports Node's ESM loader cannot see: take them off the default import.
const { BloomFilter } = bloomFilters;
type BloomFilter = InstanceType<typeof BloomFilter>;

/** murmur3 returns the 32-bit murmur3 hash of a latin1 string's character codes. */
export function murmur3(key: string, seed: number): number {
  let h = seed >>> 0;
  const n = key.length;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    let k =
      key.charCodeAt(i) |
      (key.charCodeAt(i + 1) << 8) |
      (key.charCodeAt(i + 2) << 16) |
      (key.charCodeAt(i + 3) << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const rest = n - i;
  if (rest > 0) {
    let k = key.charCodeAt(i);
    if (rest > 1) k ^= key.charCodeAt(i + 1) << 8;
    if (rest > 2) k ^= key.charCodeAt(i + 2) << 16;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  return fmix32(h ^ n);
}

/** KeyHash is a key's pair of bloom hashes (reused scratch: hashKey overwrites it). */
export interface KeyHash {
  h1: number;
  h2: number;
}

/** hashKey sets `out` to the bloom hashes of a latin1 key and returns it. */
export function hashKey(key: string, out: KeyHash): KeyHash {
  const h1 = murmur3(key, 0x9747b28c);
  let h = (h1 ^ 0x5bd1e995) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  out.h1 = h1;
  out.h2 = (h | 1) >>> 0;
  return out;
}

/** BLOCK_BITS is the size of a bloom block: all k probes of a key fall in one 64-byte cache line. */
export const BLOCK_BITS = 512;

/**
 * probe returns the i-th bit position of a key with hashes (h1, h2) in a filter of `size` bits with
 * `blocks` = floor(size / BLOCK_BITS) blocks: h1 picks the block, h2 the bits inside it (a blocked
 * bloom filter: one cache miss per lookup instead of up to k). Tiny filters use plain double hashing.
 */
function probe(h1: number, h2: number, i: number, size: number, blocks: number): number {
  if (blocks < 2) return (h1 + i * h2) % size;
  return (h1 % blocks) * BLOCK_BITS + ((h2 + i * ((h2 >>> 9) | 1)) & (BLOCK_BITS - 1));
}

/** FastHashing replaces the package's hashing (see the module comment); it only accepts latin1 strings. */
class FastHashing {
  private readonly scratch: KeyHash = { h1: 0, h2: 0 };

  getIndexes(element: string, size: number, hashCount: number): number[] {
    const { h1, h2 } = hashKey(element, this.scratch);
    const blocks = Math.floor(size / BLOCK_BITS);
    const out = new Array<number>(hashCount);
    for (let i = 0; i < hashCount; i++) out[i] = probe(h1, h2, i, size, blocks);
    return out;
  }
}

const FAST_HASHING = new FastHashing();

/** BloomInternals are the package's private fields this module reads and replaces. */
interface BloomInternals {
  _hashing: FastHashing;
  _size: number;
  _nbHashes: number;
  _filter: { array: Uint8Array };
}

/** KeyBloom is a bloom filter over latin1 keys. */
export class KeyBloom {
  private readonly filter: BloomFilter;
  // The package's bit set, size and hash count, read directly by mayHaveHash (fixed after creation).
  private readonly bits: Uint8Array;
  private readonly size: number;
  private readonly hashes: number;
  private readonly blocks: number;

  private constructor(filter: BloomFilter) {
    this.filter = filter;
    const internals = filter as unknown as BloomInternals;
    internals._hashing = FAST_HASHING;
    this.bits = internals._filter.array;
    this.size = internals._size;
    this.hashes = internals._nbHashes;
    this.blocks = Math.floor(this.size / BLOCK_BITS);
  }

  /** create sizes a filter for `items` keys at false-positive rate `rate`. */
  static create(items: number, rate: number): KeyBloom {
    return new KeyBloom(BloomFilter.create(Math.max(1, items), rate));
  }

  /** decode reads a filter from its binary form. */
  static decode(b: Buffer): KeyBloom {
    const bits = b.readUInt32LE(0);
    const hashes = b[4]!;
    const filter = new BloomFilter(bits, hashes);
    const internals = filter as unknown as BloomInternals;
    const bitmap = b.subarray(8);
    if (bitmap.length !== internals._filter.array.length)
      throw new Error(`bloom bitmap is ${bitmap.length} bytes; expected ${internals._filter.array.length}`);
    internals._filter.array.set(bitmap);
    return new KeyBloom(filter);
  }

  add(key: string): void {
    this.filter.add(key);
  }

  /** mayHave is false when the key is certainly absent. */
  mayHave(key: string): boolean {
    return this.filter.has(key);
  }

  /** mayHaveHash is mayHave for a key hashed with hashKey: the same probes, read straight off the bit set. */
  mayHaveHash(hash: KeyHash): boolean {
    const bits = this.bits;
    const size = this.size;
    const h1 = hash.h1;
    const h2 = hash.h2;
    const blocks = this.blocks;
    for (let i = 0; i < this.hashes; i++) {
      const idx = probe(h1, h2, i, size, blocks);
      if ((bits[idx >>> 3]! & (1 << (idx & 7))) === 0) return false;
    }
    return true;
  }

  /** encode returns the binary form. */
  encode(): Buffer {
    const internals = this.filter as unknown as BloomInternals;
    const bitmap = internals._filter.array;
    const b = Buffer.alloc(8 + bitmap.length);
    b.writeUInt32LE(internals._size, 0);
    b[4] = internals._nbHashes;
    b.set(bitmap, 8);
    return b;
  }
}
