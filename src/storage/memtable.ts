/**
 * Memtable: the newest writes of a store, in memory, sorted by key.
 *
 * Keys are latin1 strings (one character per key byte, so string order is byte order). A Map
 * answers point reads; a B+ tree (sorted-btree) keeps key order for scans and for flushing to an
 * SSTable run. Both hold the same small entry objects; an overwrite updates the entry in place.
 *
 * Values are copied into an arena of 1 MiB slabs and an entry records (slab, offset, length): a
 * memtable of a million values is a million plain objects for the garbage collector to trace, not
 * a million Buffers. Overwritten bytes stay in the arena until the memtable is flushed.
 *
 * `bytes` approximates the memory held: value bytes written to the arena (overwritten ones too)
 * plus key bytes plus ENTRY_OVERHEAD per key (entry object, Map slot, tree slot). It is what
 * `memtable_bytes` limits.
 */
import sortedBtree from 'sorted-btree';
import type { Versioned } from './merge-iterator.js';

// sorted-btree is CommonJS with `exports.default = BTree`: under nodenext its default import is the
// whole module object, and the class is its `default` property.
const BTree = sortedBtree.default;
type BTreeType<K, V> = InstanceType<typeof sortedBtree.default<K, V>>;

/** ENTRY_OVERHEAD is the approximate per-key memory beyond key and value bytes. */
export const ENTRY_OVERHEAD = 96;
/** SLAB_BYTES is the largest arena slab; slabs start at FIRST_SLAB_BYTES and double, so small memtables stay small. */
export const SLAB_BYTES = 1024 * 1024;
const FIRST_SLAB_BYTES = 4096;

/** MemEntry is one key's newest version; `len` -1 marks a tombstone. */
interface MemEntry {
  seq: number;
  slab: number;
  off: number;
  len: number;
}

/** Memtable holds writes in key order. Written only by its store's worker thread. */
export class Memtable {
  private readonly map = new Map<string, MemEntry>();
  private readonly tree: BTreeType<string, MemEntry> = new BTree<string, MemEntry>();
  private readonly slabs: Buffer[] = [];
  private slabUsed = 0;
  private slabSize = 0;
  /** bytes is the approximate memory held (see the module comment). */
  bytes = 0;
  /** minSeq and maxSeq bound the seqs applied to this memtable (0 when empty). */
  minSeq = 0;
  maxSeq = 0;

  /** size is the number of keys. */
  get size(): number {
    return this.map.size;
  }

  /** apply records a write (value null = delete) with its seq; seqs must arrive in increasing order. The value is copied. */
  apply(key: string, seq: number, value: Uint8Array | null): void {
    let slab = 0;
    let off = 0;
    let len = -1;
    if (value !== null) {
      len = value.length;
      this.bytes += len;
      if (len > SLAB_BYTES / 4) {
        this.slabs.push(Buffer.from(value));
        slab = this.slabs.length - 1;
      } else {
        if (this.slabUsed + len > this.slabSize) {
          this.slabSize = Math.min(SLAB_BYTES, Math.max(FIRST_SLAB_BYTES, this.slabSize * 2, len));
          this.slabs.push(Buffer.allocUnsafeSlow(this.slabSize));
          this.slabUsed = 0;
        }
        slab = this.slabs.length - 1;
        off = this.slabUsed;
        this.slabs[slab]!.set(value, off);
        this.slabUsed += len;
      }
    }
    const e = this.map.get(key);
    if (e === undefined) {
      const entry: MemEntry = { seq, slab, off, len };
      this.map.set(key, entry);
      this.tree.set(key, entry);
      this.bytes += key.length + ENTRY_OVERHEAD;
    } else {
      e.seq = seq;
      e.slab = slab;
      e.off = off;
      e.len = len;
    }
    if (this.minSeq === 0) this.minSeq = seq;
    this.maxSeq = seq;
  }

  /** get returns the key's version (value null for a tombstone), or undefined if the memtable has none. The value is a view into the arena. */
  get(key: string): Versioned | undefined {
    const e = this.map.get(key);
    return e === undefined ? undefined : { seq: e.seq, value: this.valueOf(e) };
  }

  /** entries iterates versions with key ≥ `from` (all when undefined) in key order. */
  *entries(from?: string): IterableIterator<[string, Versioned]> {
    for (const [k, e] of this.tree.entries(from)) yield [k, { seq: e.seq, value: this.valueOf(e) }];
  }

  private valueOf(e: MemEntry): Buffer | null {
    return e.len < 0 ? null : this.slabs[e.slab]!.subarray(e.off, e.off + e.len);
  }
}
