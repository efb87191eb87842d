/**
 * Bloom filters of SSTable runs, and their binary form in the run file. Sized as the bloom-filters
 * package sizes them (its formulas, its bit set layout: runs written while distkv used the package
 * read the same), hashed our own way: one 32-bit murmur3 hash of the key's bytes (keys arrive as
 * latin1 strings, one character per byte), a second derived by remixing it; the first picks a
 * 512-bit block and the second places the k probes inside it (a blocked bloom filter: one cache
 * line per run per lookup; see `probe`). The package's general-purpose 64-bit hashing cost ~12 µs
 * per lookup here, and loading the package ~100 ms of each worker's start. The read path hashes a
 * key once (`hashKey`) and probes every run's bit set with `mayHaveHash`, allocating nothing.
 * bench/micro/storage/bloom-lookup.bench.ts measures it.
 *
 *   bloom := bits:u32 hashes:u8 reserved:u8[3] bitmap:ceil(bits/8)
 */
import { fmix32 } from './key-hash.js';

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

/**
 * bloomSize is the package's sizing for `items` keys at false-positive rate `rate`: m =
 * ceil(-n ln(rate) / (ln 2)^2) bits and k = ceil(m / n * ln 2) probes (docs/sstable-format.md).
 */
function bloomSize(items: number, rate: number): { bits: number; hashes: number } {
  const bits = Math.ceil(-((items * Math.log(rate)) / Math.log(2) ** 2));
  return { bits, hashes: Math.ceil((bits / items) * Math.log(2)) };
}

/** KeyBloom is a bloom filter over latin1 keys. */
export class KeyBloom {
  // The bit set (bit i is bit i % 8 of byte i / 8), its size in bits and the probes per key.
  private readonly bits: Uint8Array;
  private readonly size: number;
  private readonly hashes: number;
  private readonly blocks: number;
  private readonly scratch: KeyHash = { h1: 0, h2: 0 };

  private constructor(size: number, hashes: number, bits: Uint8Array) {
    this.bits = bits;
    this.size = size;
    this.hashes = hashes;
    this.blocks = Math.floor(size / BLOCK_BITS);
  }

  /** create sizes a filter for `items` keys at false-positive rate `rate`. */
  static create(items: number, rate: number): KeyBloom {
    const { bits, hashes } = bloomSize(Math.max(1, items), rate);
    return new KeyBloom(bits, hashes, new Uint8Array(Math.ceil(bits / 8)));
  }

  /** decode reads a filter from its binary form. */
  static decode(b: Buffer): KeyBloom {
    const bits = b.readUInt32LE(0);
    const hashes = b[4]!;
    const bitmap = b.subarray(8);
    const expected = Math.ceil(bits / 8);
    if (bitmap.length !== expected)
      throw new Error(`bloom bitmap is ${bitmap.length} bytes; expected ${expected}`);
    if (hashes < 1) throw new Error(`bloom filter with ${hashes} hashes; at least 1`);
    return new KeyBloom(bits, hashes, Uint8Array.from(bitmap));
  }

  add(key: string): void {
    const { h1, h2 } = hashKey(key, this.scratch);
    for (let i = 0; i < this.hashes; i++) {
      const idx = probe(h1, h2, i, this.size, this.blocks);
      this.bits[idx >>> 3]! |= 1 << (idx & 7);
    }
  }

  /** mayHave is false when the key is certainly absent. */
  mayHave(key: string): boolean {
    return this.mayHaveHash(hashKey(key, this.scratch));
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
    const b = Buffer.alloc(8 + this.bits.length);
    b.writeUInt32LE(this.size, 0);
    b[4] = this.hashes;
    b.set(this.bits, 8);
    return b;
  }
}
