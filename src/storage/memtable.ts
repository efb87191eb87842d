/**
 * Memtable: the newest writes of a store, in memory, sorted by key.
 *
 * Keys are latin1 strings (one character per key byte, so string order is byte order). A Map
 * answers point reads; a B+ tree (sorted-btree) keeps key order for scans and for flushing to an
 * SSTable run. Both hold the same entry objects; an overwrite updates the entry in place.
 *
 * `bytes` approximates the memory held: key and value bytes plus ENTRY_OVERHEAD per key for the
 * entry object, the Map slot, the tree slot and the value Buffer. It is what `memtable_bytes` limits.
 */
import sortedBtree from 'sorted-btree';

// sorted-btree is CommonJS with `exports.default = BTree`: under nodenext its default import is the
// whole module object, and the class is its `default` property.
const BTree = sortedBtree.default;
type BTreeType<K, V> = InstanceType<typeof sortedBtree.default<K, V>>;

/** ENTRY_OVERHEAD is the approximate per-key memory beyond key and value bytes. */
export const ENTRY_OVERHEAD = 160;

/** MemEntry is one key's newest version: a value, or null for a tombstone. */
export interface MemEntry {
  seq: number;
  value: Buffer | null;
}

/** Memtable holds writes in key order. Written only by its store's worker thread. */
export class Memtable {
  private readonly map = new Map<string, MemEntry>();
  private readonly tree: BTreeType<string, MemEntry> = new BTree<string, MemEntry>();
  /** bytes is the approximate memory held (see the module comment). */
  bytes = 0;
  /** minSeq and maxSeq bound the seqs applied to this memtable (0 when empty). */
  minSeq = 0;
  maxSeq = 0;

  /** size is the number of keys. */
  get size(): number {
    return this.map.size;
  }

  /** apply records a write (value null = delete) with its seq; seqs must arrive in increasing order. */
  apply(key: string, seq: number, value: Buffer | null): void {
    const e = this.map.get(key);
    if (e === undefined) {
      const entry: MemEntry = { seq, value };
      this.map.set(key, entry);
      this.tree.set(key, entry);
      this.bytes += key.length + (value?.length ?? 0) + ENTRY_OVERHEAD;
    } else {
      this.bytes += (value?.length ?? 0) - (e.value?.length ?? 0);
      e.seq = seq;
      e.value = value;
    }
    if (this.minSeq === 0) this.minSeq = seq;
    this.maxSeq = seq;
  }

  /** get returns the key's entry (a tombstone has value null), or undefined if the memtable has no version. */
  get(key: string): MemEntry | undefined {
    return this.map.get(key);
  }

  /** entries iterates entries with key ≥ `from` (all when undefined) in key order. */
  *entries(from?: string): IterableIterator<[string, MemEntry]> {
    yield* this.tree.entries(from);
  }
}
