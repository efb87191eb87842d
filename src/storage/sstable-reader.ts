/**
 * Reading an SSTable run: the footer, index and bloom filter are loaded and checked when the run is
 * opened; data blocks are read on demand (a pread each) and kept decoded in a shared BlockCache.
 * Any checksum or structure failure is a CorruptionError naming the file and offset.
 */
import { CorruptionError } from '../errors.js';
import { hashKey, KeyBloom, type KeyHash } from './bloom.js';
import { crc32c } from './crc32c.js';
import {
  ENTRY_HEADER_BYTES,
  FLAG_TOMBSTONE,
  FOOTER_BYTES,
  type Footer,
  SST_MAGIC,
  SST_VERSION,
} from './sstable-format.js';
import type { ReadableFile, Vfs } from './vfs.js';
import { readU64 } from './wal-format.js';

/** Block is a decoded data block: parallel arrays in key order (values null for tombstones). */
export interface Block {
  keys: string[];
  seqs: number[];
  values: (Buffer | null)[];
  bytes: number;
}

/** BlockCache keeps recently used decoded blocks, bounded by bytes (least recently used evicted first). */
export class BlockCache {
  private readonly map = new Map<string, Block>();
  private bytes = 0;
  private readonly limit: number;
  hits = 0;
  misses = 0;

  constructor(limitBytes: number) {
    this.limit = limitBytes;
  }

  /** memoryBytes is the size of the cached blocks. */
  get memoryBytes(): number {
    return this.bytes;
  }

  get(id: string): Block | undefined {
    const b = this.map.get(id);
    if (b === undefined) return undefined;
    this.map.delete(id);
    this.map.set(id, b);
    return b;
  }

  put(id: string, block: Block): void {
    this.map.set(id, block);
    this.bytes += block.bytes;
    while (this.bytes > this.limit && this.map.size > 1) {
      const [oldest, b] = this.map.entries().next().value as [string, Block];
      this.map.delete(oldest);
      this.bytes -= b.bytes;
    }
  }

  /** dropPrefix forgets every block of one run (ids start with the run's path). */
  dropPrefix(prefix: string): void {
    for (const [id, b] of this.map) {
      if (id.startsWith(prefix)) {
        this.map.delete(id);
        this.bytes -= b.bytes;
      }
    }
  }
}

/** RunReader reads one run. */
export class RunReader {
  readonly no: number;
  readonly path: string;
  readonly footer: Footer;
  readonly bytes: number;
  /** bloom counters for /stats. */
  bloomChecks = 0;
  bloomNegatives = 0;
  bloomFalsePositives = 0;
  private readonly file: ReadableFile;
  private readonly bloom: KeyBloom;
  private readonly firstKeys: string[] = [];
  private readonly offsets: number[] = [];
  private readonly lengths: number[] = [];
  private readonly crcs: number[] = [];
  private readonly cache: BlockCache;

  constructor(vfs: Vfs, path: string, no: number, cache: BlockCache) {
    this.no = no;
    this.path = path;
    this.cache = cache;
    this.file = vfs.openRead(path);
    this.bytes = this.file.size;
    try {
      this.footer = this.readFooter();
      const f = this.footer;
      const index = this.file.readAt(f.indexOffset, f.indexLength);
      if (index.length !== f.indexLength || crc32c(index) !== f.indexCrc)
        throw new CorruptionError(path, f.indexOffset, 'index block checksum mismatch');
      try {
        this.decodeIndex(index);
      } catch (err) {
        throw new CorruptionError(path, f.indexOffset, `index block is malformed: ${(err as Error).message}`);
      }
      const bloom = this.file.readAt(f.bloomOffset, f.bloomLength);
      if (bloom.length !== f.bloomLength || crc32c(bloom) !== f.bloomCrc)
        throw new CorruptionError(path, f.bloomOffset, 'bloom filter checksum mismatch');
      try {
        this.bloom = KeyBloom.decode(bloom);
      } catch (err) {
        throw new CorruptionError(
          path,
          f.bloomOffset,
          `bloom filter is malformed: ${(err as Error).message}`,
        );
      }
    } catch (err) {
      this.file.close();
      throw err;
    }
  }

  /** get returns the run's newest version of `key` (value null = tombstone), or undefined; `hash` is hashKey(key) when the caller has it. */
  get(
    key: string,
    hash: KeyHash = hashKey(key, { h1: 0, h2: 0 }),
  ): { seq: number; value: Buffer | null } | undefined {
    this.bloomChecks++;
    if (!this.bloom.mayHaveHash(hash)) {
      this.bloomNegatives++;
      return undefined;
    }
    const b = this.blockFor(key);
    if (b >= 0) {
      const block = this.block(b);
      const i = lowerBound(block.keys, key);
      if (i < block.keys.length && block.keys[i] === key)
        return { seq: block.seqs[i]!, value: block.values[i]! };
    }
    this.bloomFalsePositives++;
    return undefined;
  }

  /** entries iterates entries with key ≥ `from` in key order; `cached` false bypasses the block cache (compaction). */
  *entries(from?: string, cached = true): IterableIterator<[string, { seq: number; value: Buffer | null }]> {
    let b = from === undefined ? 0 : Math.max(0, this.blockFor(from));
    for (; b < this.firstKeys.length; b++) {
      const block = cached ? this.block(b) : this.readBlock(b);
      const start = from === undefined ? 0 : lowerBound(block.keys, from);
      for (let i = start; i < block.keys.length; i++)
        yield [block.keys[i]!, { seq: block.seqs[i]!, value: block.values[i]! }];
    }
  }

  close(): void {
    this.cache.dropPrefix(`${this.path}#`);
    this.file.close();
  }

  /** blockFor returns the index of the last block whose first key is ≤ key, or -1. */
  private blockFor(key: string): number {
    return upperBound(this.firstKeys, key) - 1;
  }

  private block(b: number): Block {
    const id = `${this.path}#${b}`;
    const hit = this.cache.get(id);
    if (hit !== undefined) {
      this.cache.hits++;
      return hit;
    }
    this.cache.misses++;
    const block = this.readBlock(b);
    this.cache.put(id, block);
    return block;
  }

  private readBlock(b: number): Block {
    const offset = this.offsets[b]!;
    const raw = this.file.readAt(offset, this.lengths[b]!);
    if (raw.length !== this.lengths[b] || crc32c(raw) !== this.crcs[b])
      throw new CorruptionError(this.path, offset, `data block ${b} checksum mismatch`);
    const block: Block = { keys: [], seqs: [], values: [], bytes: raw.length + 64 };
    let p = 0;
    while (p < raw.length) {
      const keyLen = raw.readUInt16LE(p);
      const flags = raw[p + 2]!;
      const seq = readU64(raw, p + 3);
      const valueLen = raw.readUInt32LE(p + 11);
      const k = p + ENTRY_HEADER_BYTES;
      if (k + keyLen + valueLen > raw.length)
        throw new CorruptionError(this.path, offset + p, `entry runs past the end of block ${b}`);
      block.keys.push(raw.toString('latin1', k, k + keyLen));
      block.seqs.push(seq);
      block.values.push(flags & FLAG_TOMBSTONE ? null : raw.subarray(k + keyLen, k + keyLen + valueLen));
      block.bytes += keyLen + 48;
      p = k + keyLen + valueLen;
    }
    return block;
  }

  private readFooter(): Footer {
    if (this.bytes < FOOTER_BYTES)
      throw new CorruptionError(this.path, 0, `file is ${this.bytes} bytes, shorter than a footer`);
    const at = this.bytes - FOOTER_BYTES;
    const b = this.file.readAt(at, FOOTER_BYTES);
    if (b.readUInt32LE(0) !== SST_MAGIC)
      throw new CorruptionError(this.path, at, 'bad footer magic (not a distkv run)');
    if (crc32c(b, 0, FOOTER_BYTES - 4) !== b.readUInt32LE(FOOTER_BYTES - 4))
      throw new CorruptionError(this.path, at, 'footer checksum mismatch');
    if (b[4] !== SST_VERSION) throw new CorruptionError(this.path, at, `unsupported run version ${b[4]}`);
    const f: Footer = {
      indexOffset: readU64(b, 8),
      indexLength: b.readUInt32LE(16),
      indexCrc: b.readUInt32LE(20),
      bloomOffset: readU64(b, 24),
      bloomLength: b.readUInt32LE(32),
      bloomCrc: b.readUInt32LE(36),
      entries: readU64(b, 40),
      minSeq: readU64(b, 48),
      maxSeq: readU64(b, 56),
    };
    if (f.indexOffset + f.indexLength > at || f.bloomOffset + f.bloomLength > at)
      throw new CorruptionError(this.path, at, 'footer points past the end of the file');
    return f;
  }

  private decodeIndex(b: Buffer): void {
    const n = b.readUInt32LE(0);
    let p = 4;
    for (let i = 0; i < n; i++) {
      const keyLen = b.readUInt16LE(p);
      this.firstKeys.push(b.toString('latin1', p + 2, p + 2 + keyLen));
      p += 2 + keyLen;
      this.offsets.push(readU64(b, p));
      this.lengths.push(b.readUInt32LE(p + 8));
      this.crcs.push(b.readUInt32LE(p + 12));
      p += 16;
    }
  }
}

/** lowerBound returns the first index whose key is ≥ key. */
function lowerBound(keys: string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** upperBound returns the first index whose key is > key. */
function upperBound(keys: string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
