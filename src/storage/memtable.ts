/**
 * Memtable: the newest writes of a store, in memory, sorted by key.
 *
 * Entries: every key has an entry number, and one 64-byte record in one ArrayBuffer, read through
 * three views: its seq and expiry (Unix ms, 0 = none) as doubles, its key hash and its key's and
 * value's places (arena slab, offset, length) as int32s, and a key of up to INLINE_KEY_BYTES bytes
 * itself (longer keys go to the arena). So the garbage collector sees no object per entry
 * (replaying a 2-million-record WAL spent most of its time marking entry objects), and a write to
 * a random key of a large memtable touches one entry cache line, not three: with the key in the
 * arena and the times in an array of their own, the key compare and the seq store each missed the
 * cache again (with a field per array, nine misses). An overwrite updates the entry in place.
 *
 * Point lookups go through an open-addressing hash table of entry numbers (linear probing, at
 * most half full, hashes from key-hash.ts), keyed by the key's bytes: a write hashes the bytes it
 * was given (a request or log batch) and makes no string, or is given their hash (`applyHashed`:
 * a leader's, once for its memtable and its mirrored replica's, key-origin.ts); a read hashes the latin1 string it has
 * for every level (one character per key byte, so string order is byte order). A JavaScript Map
 * keyed by strings cost a string and a hash per write and most of its lookup time in cache misses
 * (docs/performance.md, "Worker CPU per write (issues 18, 16), second pass").
 *
 * Key order (scans, flushing to an SSTable run) is built only when asked for: a write does not
 * pay for it, as most memtables are read in order only once, when flushed. An ordered read sorts
 * the keys' strings into an array, kept while no key is added (a frozen memtable's scans and flush
 * use it); a new key drops it. An ordered read that finds it dropped after fewer new keys than
 * half the memtable (scans interleaved with writes) builds a B+ tree (sorted-btree) instead and
 * keeps it from then on: a tree insert per new key, not a sort per scan. One ordered read now and
 * then (the expiry scan of a store that becomes leader, over a memtable still empty) therefore
 * costs the writes after it nothing; it used to give every later new key a tree insert and a
 * string (~6 % of a shard worker's CPU per PUT, docs/performance.md).
 *
 * Keys and values are copied into an arena of slabs (memtable-arena.ts, which Memtable extends)
 * and an entry records (slab, offset, length) of each.
 *
 * `bytes` approximates the memory held: value bytes written to the arena (overwritten ones too)
 * plus key bytes plus ENTRY_OVERHEAD per key (the entry and its table slots). It is what
 * `memtable_bytes` limits. `memoryBytes` is what is allocated, the key order included.
 */
import sortedBtree from 'sorted-btree';
import { hashBytes, hashLatin1 } from './key-hash.js';
import { MemtableArena } from './memtable-arena.js';
import type { Versioned } from './merge-iterator.js';

// sorted-btree is CommonJS with `exports.default = BTree`: under nodenext its default import is the
// whole module object, and the class is its `default` property.
const BTree = sortedBtree.default;
type BTreeType<K, V> = InstanceType<typeof sortedBtree.default<K, V>>;

/** ORDER_OVERHEAD is the approximate per-key memory of a kept key order: a string, an array slot and an entry number (about 40 bytes with 15-byte keys). */
export const ORDER_OVERHEAD = 40;
/**
 * ENTRY_OVERHEAD is the approximate per-key memory beyond key and value bytes: the 64-byte entry
 * with the room `grow` doubles ahead (1.44 entries per key on average, 64–128 bytes) and 2–4 table
 * slots of 4 bytes, less an inline key counted as key bytes (measured: 79–135 bytes per key with
 * 15-byte keys, about 104 on average: 96 counted), plus the key order every memtable builds once,
 * at its flush (ORDER_OVERHEAD). Without that share a memtable of values of a few bytes, once
 * ordered for its flush, held 1.5-1.85x `memtable_bytes` (8- to 30-byte keys, measured heap and
 * buffers), past the 4/3 of the memory bound (memory-bound.ts); with it, 0.8-1.15x.
 */
export const ENTRY_OVERHEAD = 96 + ORDER_OVERHEAD;

const INITIAL_ENTRIES = 1024;
/**
 * An entry's 64 bytes, as doubles (`times`), int32s (`ints`) and bytes (`entryBytes`):
 *   entry := seq:f64 expiry:f64 hash:i32 keySlab:i32 keyOff:i32 keyLen:i32
 *            valueSlab:i32 valueOff:i32 valueLen:i32 inlineKey:u8[INLINE_KEY_BYTES]
 * keySlab and keyOff are unused for a key of at most INLINE_KEY_BYTES, held in inlineKey.
 */
const ENTRY_BYTES = 64;
/** ENTRY_TIMES and ENTRY_INTS are an entry's share of `times` and `ints`. */
const ENTRY_TIMES = ENTRY_BYTES / 8;
const ENTRY_INTS = ENTRY_BYTES / 4;
const SEQ = 0;
const EXPIRY = 1;
const HASH = 4;
const KEY_SLAB = 5;
const KEY_OFF = 6;
const KEY_LEN = 7;
const VALUE_SLAB = 8;
const VALUE_OFF = 9;
/** VALUE_LEN: the value's length, -1 for a tombstone. */
const VALUE_LEN = 10;
/** INLINE_KEY is where an entry's inline key starts, in bytes; INLINE_KEY_BYTES its room. */
const INLINE_KEY = 44;
const INLINE_KEY_BYTES = ENTRY_BYTES - INLINE_KEY;

/** Ordered is a memtable's keys in order with their entry numbers. */
interface Ordered {
  keys: string[];
  entries: Int32Array;
}

/** Memtable holds writes in key order. Written only by its store's worker thread. */
export class Memtable extends MemtableArena {
  /** slots holds entry number + 1 (0 = free) at the key's hash position; its length is a power of two. */
  private slots = new Int32Array(INITIAL_ENTRIES * 2);
  private count = 0;
  /** tombstones counts the entries whose value is a delete (VALUE_LEN -1). */
  private tombstones = 0;
  /** capacity is the number of entries `ints` and `times` have room for. */
  private capacity = INITIAL_ENTRIES;
  /** ints, times and entryBytes view the entries' one buffer (ENTRY_BYTES to an entry, see ENTRY_BYTES). */
  private ints = new Int32Array(INITIAL_ENTRIES * ENTRY_INTS);
  private times = new Float64Array(this.ints.buffer);
  private entryBytes = Buffer.from(this.ints.buffer);
  /** sorted holds every key in order while no key has been added since the last ordered read. */
  private sorted: Ordered | undefined;
  /** tree orders the keys of a memtable read in order while written (see the module comment). */
  private tree: BTreeType<string, number> | undefined;
  /** orderedOnce: an ordered read happened; newSinceOrder: keys added since the last one. */
  private orderedOnce = false;
  private newSinceOrder = 0;
  /** bytes is the approximate memory held (see the module comment). */
  bytes = 0;
  /** minSeq and maxSeq bound the seqs applied to this memtable (0 when empty). */
  minSeq = 0;
  maxSeq = 0;

  /** size is the number of keys (deleted ones included). */
  get size(): number {
    return this.count;
  }

  /** deletes is how many of the keys are deleted here (their newest version is a tombstone). */
  get deletes(): number {
    return this.tombstones;
  }

  /**
   * apply records a write (value null = delete) of `key` (its bytes, or their latin1 string) with
   * its seq and expiry (0 = none); seqs must arrive in increasing order. Key and value are copied.
   */
  apply(key: string | Uint8Array, seq: number, value: Uint8Array | null, expiresAtMs = 0): void {
    const k = typeof key === 'string' ? Buffer.from(key, 'latin1') : key;
    this.applyFrom(k, 0, k.length, seq, value, 0, value === null ? 0 : value.length, expiresAtMs);
  }

  /**
   * applyFrom is `apply` with the key at [keyStart, keyEnd) of `keySrc` and the value at
   * [start, end) of `src` (both may be one replicated batch): no view of either is made. `src`
   * null is a delete.
   */
  applyFrom(
    keySrc: Uint8Array,
    keyStart: number,
    keyEnd: number,
    seq: number,
    src: Uint8Array | null,
    start: number,
    end: number,
    expiresAtMs: number,
  ): void {
    const h = hashBytes(keySrc, keyStart, keyEnd);
    this.applyHashed(h, keySrc, keyStart, keyEnd, seq, src, start, end, expiresAtMs);
  }

  /**
   * applyHashed is `applyFrom` given the key's hash, `keyHash` = hashBytes(keySrc, keyStart,
   * keyEnd) of this thread (key-hash.ts): a leader and its mirrored replica hash a record's key
   * once for both memtables. Any other number files the key where no lookup finds it.
   */
  applyHashed(
    keyHash: number,
    keySrc: Uint8Array,
    keyStart: number,
    keyEnd: number,
    seq: number,
    src: Uint8Array | null,
    start: number,
    end: number,
    expiresAtMs: number,
  ): void {
    const known = this.count;
    const e = this.entryOf(keyHash | 0, keySrc, keyStart, keyEnd);
    const ints = this.ints;
    const at = e * ENTRY_INTS;
    // A new entry was no delete; an existing one was if its value length says so.
    const wasDelete = e < known && ints[at + VALUE_LEN] === -1;
    this.tombstones += (src === null ? 1 : 0) - (wasDelete ? 1 : 0);
    if (src === null) {
      ints[at + VALUE_SLAB] = 0;
      ints[at + VALUE_OFF] = 0;
      ints[at + VALUE_LEN] = -1;
    } else {
      this.bytes += end - start;
      this.copyIn(src, start, end);
      ints[at + VALUE_SLAB] = this.copiedSlab;
      ints[at + VALUE_OFF] = this.copiedOff;
      ints[at + VALUE_LEN] = end - start;
    }
    this.times[e * ENTRY_TIMES + SEQ] = seq;
    this.times[e * ENTRY_TIMES + EXPIRY] = expiresAtMs;
    if (this.minSeq === 0) this.minSeq = seq;
    this.maxSeq = seq;
  }

  /** memoryBytes is the memory the memtable holds: its slabs, its entry arrays, its table and its ordering. */
  get memoryBytes(): number {
    const ordered = this.sorted !== undefined || this.tree !== undefined ? this.count * ORDER_OVERHEAD : 0;
    return this.arenaBytes + this.capacity * ENTRY_BYTES + this.slots.length * 4 + ordered;
  }

  /** get returns the key's version (value null for a tombstone), or undefined if the memtable has none. The value is a view into the arena. */
  get(key: string): Versioned | undefined {
    const e = this.find(key);
    return e < 0 ? undefined : this.versionOf(e);
  }

  /** entries iterates versions with key ≥ `from` (all when undefined) in key order. */
  *entries(from?: string): IterableIterator<[string, Versioned]> {
    const interleaved = this.orderedOnce && this.newSinceOrder * 2 < this.count;
    if (this.tree === undefined && this.sorted === undefined && interleaved)
      this.tree = this.treeOf(this.order());
    this.orderedOnce = true;
    this.newSinceOrder = 0;
    if (this.tree !== undefined) {
      for (const [k, e] of this.tree.entries(from)) yield [k, this.versionOf(e)];
      return;
    }
    const { keys, entries } = (this.sorted ??= this.order());
    for (let i = from === undefined ? 0 : lowerBound(keys, from); i < keys.length; i++)
      yield [keys[i]!, this.versionOf(entries[i]!)];
  }

  /** find returns the entry of the key whose latin1 string is `key`, or -1. */
  private find(key: string): number {
    const h = hashLatin1(key) | 0;
    const mask = this.slots.length - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const s = this.slots[i]!;
      if (s === 0) return -1;
      if (this.ints[(s - 1) * ENTRY_INTS + HASH] === h && this.keyIsString(s - 1, key)) return s - 1;
    }
  }

  /** entryOf returns the entry of the key at [start, end) of `b`, whose hash is `h` (as int32), adding it if new. */
  private entryOf(h: number, b: Uint8Array, start: number, end: number): number {
    const mask = this.slots.length - 1;
    let i = h & mask;
    for (let s = this.slots[i]!; s !== 0; s = this.slots[i]!) {
      if (this.ints[(s - 1) * ENTRY_INTS + HASH] === h && this.keyIsBytes(s - 1, b, start, end)) return s - 1;
      i = (i + 1) & mask;
    }
    const e = this.count++;
    if (e === this.capacity) this.grow();
    this.slots[i] = e + 1;
    const at = e * ENTRY_INTS;
    if (end - start <= INLINE_KEY_BYTES) {
      const bytes = this.entryBytes;
      const o = e * ENTRY_BYTES + INLINE_KEY;
      for (let j = start; j < end; j++) bytes[o + j - start] = b[j]!;
    } else {
      this.copyIn(b, start, end);
      this.ints[at + KEY_SLAB] = this.copiedSlab;
      this.ints[at + KEY_OFF] = this.copiedOff;
    }
    this.ints[at + HASH] = h;
    this.ints[at + KEY_LEN] = end - start;
    this.bytes += end - start + ENTRY_OVERHEAD;
    if (this.count * 2 > this.slots.length) this.rehash();
    this.newSinceOrder++;
    this.sorted = undefined;
    this.tree?.set(this.keyString(e), e);
    return e;
  }

  /**
   * keyIsBytes says entry `e`'s key is [start, end) of `b` (which must lie inside `b`). Four bytes
   * to a step: the optimized loop checks both buffers' maps and bounds at every step, about 35
   * instructions, whatever the step compares (docs/performance.md, "Mirrored replicas").
   */
  private keyIsBytes(e: number, b: Uint8Array, start: number, end: number): boolean {
    const at = e * ENTRY_INTS;
    const len = this.ints[at + KEY_LEN]!;
    if (len !== end - start) return false;
    const slab = this.keyHolder(e, len);
    let o = this.keyOffset(e, len);
    let i = start;
    for (; i + 4 <= end; i += 4, o += 4)
      if (
        (slab[o]! ^ b[i]!) |
        (slab[o + 1]! ^ b[i + 1]!) |
        (slab[o + 2]! ^ b[i + 2]!) |
        (slab[o + 3]! ^ b[i + 3]!)
      )
        return false;
    for (; i < end; i++, o++) if (slab[o] !== b[i]) return false;
    return true;
  }

  private keyIsString(e: number, key: string): boolean {
    const len = this.ints[e * ENTRY_INTS + KEY_LEN]!;
    if (len !== key.length) return false;
    const slab = this.keyHolder(e, len);
    const o = this.keyOffset(e, len);
    for (let i = 0; i < key.length; i++) if (slab[o + i] !== key.charCodeAt(i)) return false;
    return true;
  }

  /** keyHolder is the buffer that holds entry `e`'s key of `len` bytes: the entries' own for an inline key, else its slab. */
  private keyHolder(e: number, len: number): Buffer {
    return len <= INLINE_KEY_BYTES ? this.entryBytes : this.slabs[this.ints[e * ENTRY_INTS + KEY_SLAB]!]!;
  }

  /** keyOffset is where entry `e`'s key of `len` bytes starts in its keyHolder. */
  private keyOffset(e: number, len: number): number {
    return len <= INLINE_KEY_BYTES ? e * ENTRY_BYTES + INLINE_KEY : this.ints[e * ENTRY_INTS + KEY_OFF]!;
  }

  private keyString(e: number): string {
    const len = this.ints[e * ENTRY_INTS + KEY_LEN]!;
    const o = this.keyOffset(e, len);
    const holder = this.keyHolder(e, len) as Buffer & { latin1Slice(start: number, end: number): string };
    return holder.latin1Slice(o, o + len);
  }

  /** order sorts the keys (plain string comparison is code-unit order, which for latin1 keys is byte order). */
  private order(): Ordered {
    const keys: string[] = new Array<string>(this.count);
    for (let e = 0; e < this.count; e++) keys[e] = this.keyString(e);
    keys.sort();
    const entries = new Int32Array(keys.length);
    for (let i = 0; i < keys.length; i++) entries[i] = this.find(keys[i]!);
    return { keys, entries };
  }

  /** treeOf builds the tree of the keys in `sorted` (in order, so each insert goes to the right end). */
  private treeOf(sorted: Ordered): BTreeType<string, number> {
    const tree = new BTree<string, number>();
    for (let i = 0; i < sorted.keys.length; i++) tree.set(sorted.keys[i]!, sorted.entries[i]!);
    return tree;
  }

  private versionOf(e: number): Versioned {
    return {
      seq: this.times[e * ENTRY_TIMES + SEQ]!,
      value: this.entryValue(e),
      expiresAtMs: this.times[e * ENTRY_TIMES + EXPIRY]!,
    };
  }

  /** entryValue is entry `e`'s value, a view into its slab, or null for a tombstone. */
  private entryValue(e: number): Buffer | null {
    const at = e * ENTRY_INTS;
    const len = this.ints[at + VALUE_LEN]!;
    if (len < 0) return null;
    const off = this.ints[at + VALUE_OFF]!;
    return this.slabs[this.ints[at + VALUE_SLAB]!]!.subarray(off, off + len);
  }

  /** rehash doubles the table and puts every entry back at its hash position. */
  private rehash(): void {
    const slots = new Int32Array(this.slots.length * 2);
    const mask = slots.length - 1;
    for (let e = 0; e < this.count; e++) {
      let i = this.ints[e * ENTRY_INTS + HASH]! & mask;
      while (slots[i] !== 0) i = (i + 1) & mask;
      slots[i] = e + 1;
    }
    this.slots = slots;
  }

  private grow(): void {
    this.capacity *= 2;
    const ints = new Int32Array(this.capacity * ENTRY_INTS);
    ints.set(this.ints);
    this.ints = ints;
    this.times = new Float64Array(ints.buffer);
    this.entryBytes = Buffer.from(ints.buffer);
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
