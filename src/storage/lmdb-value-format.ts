/**
 * The value layout of LMDB `data` databases (the LSM store's bottom level and the LMDB-only store):
 * every value carries the version and expiry of the write that put it. Integers are little-endian.
 *
 *   stored-value := seq:u64 expiresAtMs:u64 value        (LMDB_VALUE_HEADER_BYTES = 16)
 *   seq          := the seq of the write (0 for values migrated from layout 1, whose seq is unknown)
 *   expiresAtMs  := absolute expiry in Unix ms, 0 = none
 *
 * Layout 1 (distkv before versions) stored the bare value. The `meta` database records the layout
 * under META_VALUE_LAYOUT; an environment with data but no such record is layout 1 and is rewritten
 * in place by upgradeValueLayout when it is opened (docs/sstable-format.md, "LMDB values").
 */
import type { Database, RootDatabase } from 'lmdb';
import { readU64, writeU64 } from './wal-format.js';

/** LMDB_VALUE_LAYOUT is the layout this build writes. */
export const LMDB_VALUE_LAYOUT = 2;
/** META_VALUE_LAYOUT is the meta key holding the layout number. */
export const META_VALUE_LAYOUT = 'value_layout';
/** LMDB_VALUE_HEADER_BYTES is the size of seq and expiry before the value. */
export const LMDB_VALUE_HEADER_BYTES = 16;

/** StoredValue is a decoded stored value; `value` is a view into the buffer it was decoded from. */
export interface StoredValue {
  seq: number;
  expiresAtMs: number;
  value: Buffer;
}

/** encodeStoredValue returns the stored form of a value (a copy). */
export function encodeStoredValue(seq: number, expiresAtMs: number, value: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(LMDB_VALUE_HEADER_BYTES + value.length);
  writeU64(b, seq, 0);
  writeU64(b, expiresAtMs, 8);
  b.set(value, LMDB_VALUE_HEADER_BYTES);
  return b;
}

/** decodeStoredValue splits a stored value; undefined when it is shorter than the header (damaged). */
export function decodeStoredValue(b: Buffer): StoredValue | undefined {
  if (b.length < LMDB_VALUE_HEADER_BYTES) return undefined;
  return { seq: readU64(b, 0), expiresAtMs: readU64(b, 8), value: b.subarray(LMDB_VALUE_HEADER_BYTES) };
}

/**
 * upgradeValueLayout rewrites a layout-1 environment's values into this layout (seq 0, no expiry)
 * and records the layout, all in one synchronous write transaction: a crash part-way leaves layout
 * 1 untouched, to be upgraded again at the next open. Returns how many values it rewrote.
 */
export function upgradeValueLayout(
  root: RootDatabase,
  data: Database<Buffer, Uint8Array>,
  meta: Database<number, string>,
): number {
  const layout = meta.get(META_VALUE_LAYOUT);
  if (layout === LMDB_VALUE_LAYOUT) return 0;
  if (layout !== undefined)
    throw new Error(`LMDB value layout ${layout} is not one this build reads (${LMDB_VALUE_LAYOUT})`);
  let rewritten = 0;
  root.transactionSync(() => {
    const old = [...data.getRange({})].map(({ key, value }) => ({ key, value: Buffer.from(value) }));
    for (const { key, value } of old) data.putSync(key, encodeStoredValue(0, 0, value));
    meta.putSync(META_VALUE_LAYOUT, LMDB_VALUE_LAYOUT);
    rewritten = old.length;
  });
  return rewritten;
}
