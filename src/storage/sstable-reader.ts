/**
 * Reading an SSTable run: the footer, index and bloom filter are loaded and checked when the run is
 * opened; data blocks are read on demand (a pread each), checked against their CRC once, and kept
 * raw in a shared BlockCache. A point read never decodes a block: it binary-searches the block's
 * restart points, comparing key bytes in place, then scans at most RESTART_INTERVAL entries.
 * Any checksum or structure failure is a CorruptionError naming the file and offset.
 *
 * Lifetime of returned values: a value is a view into a block's buffer. Block buffers are never
 * written after they are read and never reused (the cache only drops its reference), so a view
 * stays valid for as long as the caller holds it, after eviction and after the run is closed.
 */
import { CorruptionError } from '../errors.js';
import { hashKey, KeyBloom, type KeyHash } from './bloom.js';
import { crc32c } from './crc32c.js';
import {
  ENTRY_HEADER_BYTES,
  EXPIRY_BYTES,
  FLAG_EXPIRES,
  FLAG_TOMBSTONE,
  FOOTER_BYTES,
  FOOTER_TOMBSTONES_AT,
  type Footer,
  SST_MAGIC,
  SST_VERSION,
  SST_VERSION_NO_EXPIRY,
  SST_VERSION_NO_RESTARTS,
} from './sstable-format.js';
import type { Versioned } from './merge-iterator.js';
import type { ReadableFile, Vfs } from './vfs.js';
import { readU64 } from './wal-format.js';

/** BLOCKS_PER_RUN bounds a run's block count so (run number, block) packs into one cache id. */
const BLOCKS_PER_RUN = 2 ** 24;

/** Block is a checked raw data block: `data` ends where its entries end (before the restarts). */
interface Block {
  raw: Buffer;
  dataEnd: number;
  /** restarts is the offset of the restart array (restart i is at restarts + 4i); count = n. */
  restarts: number;
  n: number;
}

/**
 * BlockCache keeps recently used raw blocks of one store's runs, bounded by bytes (least recently
 * used evicted first; 0 = keep nothing). A block's id is runNo · 2^24 + block index.
 */
export class BlockCache {
  private readonly map = new Map<number, Block>();
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

  get(id: number): Block | undefined {
    const b = this.map.get(id);
    if (b === undefined) return undefined;
    this.map.delete(id);
    this.map.set(id, b);
    return b;
  }

  put(id: number, block: Block): void {
    if (this.limit <= 0) return;
    this.map.set(id, block);
    this.bytes += block.raw.length;
    while (this.bytes > this.limit && this.map.size > 1) {
      const [oldest, b] = this.map.entries().next().value as [number, Block];
      this.map.delete(oldest);
      this.bytes -= b.raw.length;
    }
  }

  /** dropRun forgets every block of run `no`. */
  dropRun(no: number): void {
    for (const [id, b] of this.map) {
      if (Math.floor(id / BLOCKS_PER_RUN) === no) {
        this.map.delete(id);
        this.bytes -= b.raw.length;
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
  private version = SST_VERSION;

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

  /**
   * get returns the run's version of `key` (a latin1 string; value null = tombstone), or undefined.
   * `hash` is hashKey(key) and `bytes` the key's bytes when the caller has them. The value is a
   * view into a block buffer (see the module comment for its lifetime).
   */
  get(
    key: string,
    hash: KeyHash = hashKey(key, { h1: 0, h2: 0 }),
    bytes: Uint8Array = Buffer.from(key, 'latin1'),
  ): Versioned | undefined {
    this.bloomChecks++;
    if (!this.bloom.mayHaveHash(hash)) {
      this.bloomNegatives++;
      return undefined;
    }
    const b = this.blockFor(key);
    if (b >= 0) {
      const found = this.search(this.block(b), b, bytes);
      if (found !== undefined) return found;
    }
    this.bloomFalsePositives++;
    return undefined;
  }

  /** entries iterates entries with key ≥ `from` in key order; `cached` false bypasses the block cache (compaction). */
  *entries(from?: string, cached = true): IterableIterator<[string, Versioned]> {
    let b = from === undefined ? 0 : Math.max(0, this.blockFor(from));
    for (; b < this.firstKeys.length; b++) {
      const { raw, dataEnd } = cached ? this.block(b) : this.readBlock(b);
      for (let p = 0; p < dataEnd;) {
        const keyLen = raw.readUInt16LE(p);
        const valueLen = raw.readUInt32LE(p + 11);
        const k = p + ENTRY_HEADER_BYTES;
        const end = k + keyLen + valueLen;
        if (end > dataEnd)
          throw new CorruptionError(this.path, this.offsets[b]! + p, `entry runs past the end of block ${b}`);
        const key = raw.toString('latin1', k, k + keyLen);
        if (from === undefined || key >= from) yield [key, versionAt(raw, p, k + keyLen, end)];
        p = end;
      }
    }
  }

  close(): void {
    this.cache.dropRun(this.no);
    this.file.close();
  }

  /** blockFor returns the index of the last block whose first key is ≤ key, or -1. */
  private blockFor(key: string): number {
    return upperBound(this.firstKeys, key) - 1;
  }

  /**
   * search finds `key` in a block: a binary search over the restart points for the last one whose
   * key is ≤ key, then a scan of the entries from there (to the block's end in version 2 blocks).
   */
  private search(block: Block, b: number, key: Uint8Array): Versioned | undefined {
    const { raw, dataEnd, restarts, n } = block;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (compareAt(raw, raw.readUInt32LE(restarts + 4 * mid), key) <= 0) lo = mid;
      else hi = mid - 1;
    }
    for (let p = n === 0 ? 0 : raw.readUInt32LE(restarts + 4 * lo); p < dataEnd;) {
      const keyLen = raw.readUInt16LE(p);
      const valueLen = raw.readUInt32LE(p + 11);
      const k = p + ENTRY_HEADER_BYTES;
      const end = k + keyLen + valueLen;
      if (end > dataEnd)
        throw new CorruptionError(this.path, this.offsets[b]! + p, `entry runs past the end of block ${b}`);
      const c = compareAt(raw, p, key);
      if (c === 0) return versionAt(raw, p, k + keyLen, end);
      if (c > 0) return undefined;
      p = end;
    }
    return undefined;
  }

  private block(b: number): Block {
    const id = this.no * BLOCKS_PER_RUN + b;
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

  /** readBlock reads block b, checks its CRC and, in version 3, its restart array. */
  private readBlock(b: number): Block {
    const offset = this.offsets[b]!;
    const raw = this.file.readAt(offset, this.lengths[b]!);
    if (raw.length !== this.lengths[b] || crc32c(raw) !== this.crcs[b])
      throw new CorruptionError(this.path, offset, `data block ${b} checksum mismatch`);
    if (this.version === SST_VERSION_NO_RESTARTS) return { raw, dataEnd: raw.length, restarts: 0, n: 0 };
    const n = raw.length >= 4 ? raw.readUInt32LE(raw.length - 4) : -1;
    const restarts = raw.length - 4 - 4 * n;
    if (n < 1 || restarts < ENTRY_HEADER_BYTES)
      throw new CorruptionError(
        this.path,
        offset,
        `data block ${b} has a malformed restart array (${n} restarts)`,
      );
    for (let i = 0; i < n; i++)
      if (raw.readUInt32LE(restarts + 4 * i) >= restarts)
        throw new CorruptionError(this.path, offset, `data block ${b}: restart ${i} points past the entries`);
    return { raw, dataEnd: restarts, restarts, n };
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
    if (b[4] !== SST_VERSION && b[4] !== SST_VERSION_NO_EXPIRY && b[4] !== SST_VERSION_NO_RESTARTS)
      throw new CorruptionError(
        this.path,
        at,
        `unsupported run version ${b[4]} (this build reads versions ${SST_VERSION_NO_RESTARTS} to ${SST_VERSION})`,
      );
    this.version = b[4];
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
      tombstones: b.readUInt32LE(FOOTER_TOMBSTONES_AT),
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

/**
 * versionAt decodes the entry at `p` of `raw` whose value spans [v, end): a tombstone, or a value
 * with its expiry prefix (FLAG_EXPIRES) split off. Versions before 4 never set FLAG_EXPIRES.
 */
function versionAt(raw: Buffer, p: number, v: number, end: number): Versioned {
  const seq = readU64(raw, p + 3);
  const flags = raw[p + 2]!;
  if (flags & FLAG_TOMBSTONE) return { seq, value: null, expiresAtMs: 0 };
  if (flags & FLAG_EXPIRES && v + EXPIRY_BYTES <= end)
    return { seq, value: raw.subarray(v + EXPIRY_BYTES, end), expiresAtMs: readU64(raw, v) };
  return { seq, value: raw.subarray(v, end), expiresAtMs: 0 };
}

/** compareAt compares the key of the entry at `p` in `raw` with `key`, by bytes, without copying. */
function compareAt(raw: Buffer, p: number, key: Uint8Array): number {
  const keyLen = raw[p]! | (raw[p + 1]! << 8);
  const k = p + ENTRY_HEADER_BYTES;
  const n = keyLen < key.length ? keyLen : key.length;
  // A byte loop beats Buffer.compare's native call for keys of tens of bytes.
  for (let i = 0; i < n; i++) {
    const d = raw[k + i]! - key[i]!;
    if (d !== 0) return d;
  }
  return keyLen - key.length;
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
