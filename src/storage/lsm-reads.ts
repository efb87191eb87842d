/**
 * Reads through an LSM store's levels (lsm-store.ts), newest first: the active memtable, the frozen
 * ones (newest first), the runs (newest first: bloom, index, block cache), then LMDB.
 * `newestIn` finds a key's newest version (the first level that has it), telling the compaction
 * scheduler how many runs the read passed through; `scanLevels` (a prefix, in key order, hiding
 * tombstones and expired values) and `expiringIn` (the entries with an expiry, a page at a time)
 * read one merge of every level's newest version of each key (merge-iterator.ts).
 * Runs on the store's worker thread, synchronously: the levels do not change during one call.
 */
import { latin1Key } from '../util/bytes.js';
import { hashKey, type KeyHash } from './bloom.js';
import type { LevelEntry, LmdbLevel } from './lmdb-level.js';
import type { Memtable } from './memtable.js';
import { isLive, mergeNewest, type Versioned } from './merge-iterator.js';
import type { RunReader } from './sstable-reader.js';
import { EXPIRING_PAGE_BYTES, entryBytes, type ExpiringPage, type StoreEntry } from './store.js';

/** Levels are an LSM store's levels, owned by the store (it swaps `active` and `runs`). */
export interface Levels {
  active: Memtable;
  /** frozen memtables, newest first (the flush queue's list, flush-queue.ts). */
  readonly frozen: readonly Memtable[];
  /** runs, newest first. */
  runs: RunReader[];
  readonly level: LmdbLevel;
}

/** ReadPasses hears how many runs a point read passed through (CompactionScheduler.readPassed). */
export interface ReadPasses {
  readPassed(runs: number): void;
}

/**
 * newestIn returns the newest version of `key` in any level (tombstone or expired included);
 * `hash` is scratch space for the key's bloom hashes.
 */
export function newestIn(
  l: Levels,
  key: Uint8Array,
  hash: KeyHash,
  passes: ReadPasses,
): Versioned | undefined {
  const k = latin1Key(key);
  const e = l.active.get(k);
  if (e !== undefined) return e;
  const frozen = l.frozen;
  for (let i = 0; i < frozen.length; i++) {
    const f = frozen[i]!.get(k);
    if (f !== undefined) return f;
  }
  const runs = l.runs;
  if (runs.length > 0) {
    const h = hashKey(k, hash);
    for (let i = 0; i < runs.length; i++) {
      const v = runs[i]!.get(k, h, key);
      if (v !== undefined) {
        passes.readPassed(i);
        return v;
      }
    }
    passes.readPassed(runs.length);
  }
  return l.level.get(key);
}

/**
 * scanLevels returns live entries under `prefix` after key `after`, in key order, as of `nowMs`:
 * up to `page.limit` of them, ending after the one that brings their bytes to `page.maxBytes` (Store.scan).
 */
export function scanLevels(
  l: Levels,
  prefix: Uint8Array,
  after: Uint8Array | undefined,
  page: { limit: number; maxBytes: number },
  nowMs: number,
): StoreEntry[] {
  const p = latin1Key(prefix);
  const from = after !== undefined && latin1Key(after) >= p ? `${latin1Key(after)}\u0000` : p;
  const out: StoreEntry[] = [];
  let bytes = 0;
  for (const [k, v] of merged(l, prefix, from)) {
    if (!k.startsWith(p)) break;
    if (!isLive(v, nowMs)) continue;
    const e = {
      key: Buffer.from(k, 'latin1'),
      value: Buffer.from(v.value),
      seq: v.seq,
      expiresAtMs: v.expiresAtMs ?? 0,
    };
    out.push(e);
    bytes += entryBytes(e);
    if (out.length >= page.limit || bytes >= page.maxBytes) break;
  }
  return out;
}

/** expiringIn returns the next page of entries with an expiry after key `after` (Store.expiring). */
export function expiringIn(l: Levels, after: Uint8Array | undefined, limit: number): ExpiringPage {
  const from = after === undefined ? '' : `${latin1Key(after)}\u0000`;
  const entries: ExpiringPage['entries'] = [];
  let last: string | undefined;
  let visited = 0;
  let bytes = 0;
  for (const [k, v] of merged(l, new Uint8Array(0), from)) {
    if (v.value !== null && (v.expiresAtMs ?? 0) > 0)
      entries.push({ key: Buffer.from(k, 'latin1'), seq: v.seq, expiresAtMs: v.expiresAtMs ?? 0 });
    last = k;
    bytes += k.length + (v.value?.length ?? 0);
    // The levels read values with their keys: large values end a page early.
    if (++visited >= limit || bytes >= EXPIRING_PAGE_BYTES)
      return { entries, next: Buffer.from(last, 'latin1') };
  }
  return { entries, next: undefined };
}

/** merged is every level's newest version of each key ≥ `from` (latin1) under `prefix`, in key order. */
function merged(l: Levels, prefix: Uint8Array, from: string): IterableIterator<[string, Versioned]> {
  return mergeNewest([
    l.active.entries(from),
    ...l.frozen.map((m) => m.entries(from)),
    ...l.runs.map((r) => r.entries(from)),
    mapLevel(l.level.entries(prefix, Buffer.from(from, 'latin1'), false)),
  ]);
}

function* mapLevel(it: IterableIterator<LevelEntry>): IterableIterator<[string, Versioned]> {
  for (const { key, version } of it) yield [key.toString('latin1'), version];
}
