/**
 * Memtable: the newest writes of a store, in memory, sorted by key.
 *
 * Keys are latin1 strings (one character per key byte, so string order is byte order). A Map
 * answers point reads and maps a key to an entry number. Key order (scans, flushing to an SSTable
 * run) is built only when first asked for: a write does not pay for it, as most memtables are read
 * in order only once, when flushed. The first ordered read sorts the keys into an array, kept while
 * no key is added (a frozen memtable's scans and flush use it); a memtable that then takes a new
 * key builds a B+ tree (sorted-btree) from that array and keeps it from then on, so scans
 * interleaved with writes cost a tree insert per new key, not a sort per scan. Either way the
 * entry numbers come from the Map; an entry's seq, expiry (Unix ms, 0 = none), arena
 * slab, offset and length live in parallel typed arrays, so the garbage collector sees no object per entry (replaying a
 * 2-million-record WAL spent most of its time marking entry objects). An overwrite updates the
 * entry in place.
 *
 * Values are copied into an arena of 1 MiB slabs and an entry records (slab, offset, length): a
 * memtable of a million values is a million plain objects for the garbage collector to trace, not
 * a million Buffers. Overwritten bytes stay in the arena until the memtable is flushed.
 * Small values are appended to the current slab (`cur`); a value over SLAB_BYTES/4 gets a slab of
 * its own, which never becomes the current slab, so nothing is ever appended after it.
 * Invariant: slabUsed ≤ slabSize = slabs[cur].length, and no two entries' bytes overlap.
 *
 * `bytes` approximates the memory held: value bytes written to the arena (overwritten ones too)
 * plus key bytes plus ENTRY_OVERHEAD per key (typed-array slots, Map and tree slots). It is what
 * `memtable_bytes` limits.
 */
import sortedBtree from 'sorted-btree';
import type { Versioned } from './merge-iterator.js';

// sorted-btree is CommonJS with `exports.default = BTree`: under nodenext its default import is the
// whole module object, and the class is its `default` property.
const BTree = sortedBtree.default;
type BTreeType<K, V> = InstanceType<typeof sortedBtree.default<K, V>>;

/** ENTRY_OVERHEAD is the approximate per-key memory beyond key and value bytes. */
export const ENTRY_OVERHEAD = 80;
/** SLAB_BYTES is the largest arena slab; slabs start at FIRST_SLAB_BYTES and double, so small memtables stay small. */
export const SLAB_BYTES = 1024 * 1024;
const FIRST_SLAB_BYTES = 4096;

const INITIAL_ENTRIES = 1024;
/** ENTRY_ARRAY_BYTES is one entry's share of the parallel typed arrays (seq and expiry f64, slab, offset, length i32). */
const ENTRY_ARRAY_BYTES = 8 * 2 + 4 * 3;

/** Memtable holds writes in key order. Written only by its store's worker thread. */
export class Memtable {
  private readonly map = new Map<string, number>();
  /** sorted holds every key in order while no key has been added since the last ordered read. */
  private sorted: string[] | undefined;
  /** tree orders the keys of a memtable read in order and then written (see the module comment). */
  private tree: BTreeType<string, number> | undefined;
  private seqs = new Float64Array(INITIAL_ENTRIES);
  private expiries = new Float64Array(INITIAL_ENTRIES);
  private slabOf = new Int32Array(INITIAL_ENTRIES);
  private offs = new Int32Array(INITIAL_ENTRIES);
  /** lens: value length, -1 for a tombstone. */
  private lens = new Int32Array(INITIAL_ENTRIES);
  private readonly slabs: Buffer[] = [];
  /** cur is the slab small values are appended to (-1 before the first one); slabUsed of its slabSize bytes are taken. */
  private cur = -1;
  private slabUsed = 0;
  private slabSize = 0;
  /** bytes is the approximate memory held (see the module comment). */
  bytes = 0;
  /** arenaBytes is the size of every slab allocated, used or not. */
  arenaBytes = 0;
  private keyBytes = 0;
  /** minSeq and maxSeq bound the seqs applied to this memtable (0 when empty). */
  minSeq = 0;
  maxSeq = 0;

  /** size is the number of keys. */
  get size(): number {
    return this.map.size;
  }

  /**
   * apply records a write (value null = delete) with its seq and expiry (0 = none); seqs must arrive
   * in increasing order. The value is copied.
   */
  apply(key: string, seq: number, value: Uint8Array | null, expiresAtMs = 0): void {
    this.applyFrom(key, seq, value, 0, value === null ? 0 : value.length, expiresAtMs);
  }

  /**
   * applyFrom is `apply` with the value at [start, end) of `src` (a replicated batch): no view of
   * it is made. `src` null is a delete.
   */
  applyFrom(
    key: string,
    seq: number,
    src: Uint8Array | null,
    start: number,
    end: number,
    expiresAtMs: number,
  ): void {
    let slab = 0;
    let off = 0;
    let len = -1;
    if (src !== null) {
      len = end - start;
      const value =
        start === 0 && end === src.length ? src : new Uint8Array(src.buffer, src.byteOffset + start, len);
      this.bytes += len;
      if (len > SLAB_BYTES / 4) {
        // A dedicated slab: `cur`, slabUsed and slabSize keep describing the small-value slab.
        this.slabs.push(Buffer.from(value));
        this.arenaBytes += len;
        slab = this.slabs.length - 1;
      } else {
        if (this.cur < 0 || this.slabUsed + len > this.slabSize) {
          this.slabSize = Math.min(SLAB_BYTES, Math.max(FIRST_SLAB_BYTES, this.slabSize * 2, len));
          this.slabs.push(Buffer.allocUnsafeSlow(this.slabSize));
          this.arenaBytes += this.slabSize;
          this.cur = this.slabs.length - 1;
          this.slabUsed = 0;
        }
        slab = this.cur;
        off = this.slabUsed;
        this.slabs[slab]!.set(value, off);
        this.slabUsed += len;
      }
    }
    let e = this.map.get(key);
    if (e === undefined) {
      e = this.map.size;
      if (e === this.seqs.length) this.grow();
      this.map.set(key, e);
      if (this.tree === undefined && this.sorted !== undefined) this.tree = this.treeOf(this.sorted);
      this.sorted = undefined;
      this.tree?.set(key, e);
      this.bytes += key.length + ENTRY_OVERHEAD;
      this.keyBytes += key.length;
    }
    this.seqs[e] = seq;
    this.expiries[e] = expiresAtMs;
    this.slabOf[e] = slab;
    this.offs[e] = off;
    this.lens[e] = len;
    if (this.minSeq === 0) this.minSeq = seq;
    this.maxSeq = seq;
  }

  /** memoryBytes is the memory the memtable holds: its slabs, its entry arrays and its keys' Map and tree slots. */
  get memoryBytes(): number {
    return (
      this.arenaBytes + this.keyBytes + this.seqs.length * ENTRY_ARRAY_BYTES + this.map.size * ENTRY_OVERHEAD
    );
  }

  /** get returns the key's version (value null for a tombstone), or undefined if the memtable has none. The value is a view into the arena. */
  get(key: string): Versioned | undefined {
    const e = this.map.get(key);
    return e === undefined ? undefined : this.versionOf(e);
  }

  /** entries iterates versions with key ≥ `from` (all when undefined) in key order. */
  *entries(from?: string): IterableIterator<[string, Versioned]> {
    if (this.tree !== undefined) {
      for (const [k, e] of this.tree.entries(from)) yield [k, this.versionOf(e)];
      return;
    }
    // Plain string comparison is code-unit order, which for latin1 keys is byte order.
    const keys = (this.sorted ??= [...this.map.keys()].sort());
    for (let i = from === undefined ? 0 : lowerBound(keys, from); i < keys.length; i++) {
      const k = keys[i]!;
      yield [k, this.versionOf(this.map.get(k)!)];
    }
  }

  /** treeOf builds the tree of the keys in `sorted` (in order, so each insert goes to the right end). */
  private treeOf(sorted: readonly string[]): BTreeType<string, number> {
    const tree = new BTree<string, number>();
    for (const k of sorted) tree.set(k, this.map.get(k)!);
    return tree;
  }

  private versionOf(e: number): Versioned {
    return { seq: this.seqs[e]!, value: this.valueOf(e), expiresAtMs: this.expiries[e]! };
  }

  private valueOf(e: number): Buffer | null {
    const len = this.lens[e]!;
    if (len < 0) return null;
    const off = this.offs[e]!;
    return this.slabs[this.slabOf[e]!]!.subarray(off, off + len);
  }

  private grow(): void {
    const n = this.seqs.length * 2;
    for (const name of ['seqs', 'expiries'] as const) {
      const next = new Float64Array(n);
      next.set(this[name]);
      this[name] = next;
    }
    for (const name of ['slabOf', 'offs', 'lens'] as const) {
      const next = new Int32Array(n);
      next.set(this[name]);
      this[name] = next;
    }
  }
}

/** lowerBound is the index of the first key of `sorted` that is ≥ `from`. */
function lowerBound(sorted: readonly string[], from: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < from) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
