/**
 * The value layout of LMDB `data` databases (the LSM store's bottom level and the LMDB-only store):
 * every value carries a checksum and the version and expiry of the write that put it. Integers
 * are little-endian.
 *
 *   stored-value := crc:u32 seq:u64 expiresAtMs:u64 value    (LMDB_VALUE_HEADER_BYTES = 20)
 *   crc          := crc32c of the key, continued over the bytes after crc (seq, expiry, value)
 *   seq          := the seq of the write (0 for values migrated from layout 1, whose seq is unknown)
 *   expiresAtMs  := absolute expiry in Unix ms, 0 = none
 *
 * LMDB keeps no checksums of its pages: without `crc` a flipped byte in the data file was read
 * back as an altered value. A stored value whose crc does not match is reported, never returned.
 * Layout 2 had no crc (seq:u64 expiresAtMs:u64 value); layout 1 (distkv before versions) stored the
 * bare value. The `meta` database records the layout under META_VALUE_LAYOUT; an environment with
 * data but no such record is layout 1. Older layouts are rewritten in place by upgradeValueLayout
 * when the environment is opened (docs/sstable-format.md, "LMDB values").
 */
import type { Database, RootDatabase } from 'lmdb';
import { crc32c } from './crc32c.js';
import { readU64, writeU64 } from './wal-format.js';

/** LMDB_VALUE_LAYOUT is the layout this build writes. */
export const LMDB_VALUE_LAYOUT = 3;
/** LMDB_VALUE_LAYOUT_NO_CRC is the previous layout, upgraded when opened. */
const LMDB_VALUE_LAYOUT_NO_CRC = 2;
/** NO_CRC_HEADER_BYTES is layout 2's header: seq and expiry. */
const NO_CRC_HEADER_BYTES = 16;
/** META_VALUE_LAYOUT is the meta key holding the layout number. */
export const META_VALUE_LAYOUT = 'value_layout';
/** LMDB_VALUE_HEADER_BYTES is the size of crc, seq and expiry before the value. */
export const LMDB_VALUE_HEADER_BYTES = 20;

/** StoredValue is a decoded stored value; `value` is a view into the buffer it was decoded from. */
export interface StoredValue {
  seq: number;
  expiresAtMs: number;
  value: Buffer;
}

/** encodeStoredValue returns the stored form of `key`'s value (a copy). */
export function encodeStoredValue(
  key: Uint8Array,
  seq: number,
  expiresAtMs: number,
  value: Uint8Array,
): Buffer {
  const b = Buffer.allocUnsafe(LMDB_VALUE_HEADER_BYTES + value.length);
  writeU64(b, seq, 4);
  writeU64(b, expiresAtMs, 12);
  b.set(value, LMDB_VALUE_HEADER_BYTES);
  b.writeUInt32LE(storedCrc(key, b), 0);
  return b;
}

/**
 * decodeStoredValue splits `key`'s stored value; undefined when it is damaged (shorter than the
 * header, or its crc does not match).
 */
export function decodeStoredValue(key: Uint8Array, b: Buffer): StoredValue | undefined {
  if (b.length < LMDB_VALUE_HEADER_BYTES || storedCrc(key, b) !== b.readUInt32LE(0)) return undefined;
  return { seq: readU64(b, 4), expiresAtMs: readU64(b, 12), value: b.subarray(LMDB_VALUE_HEADER_BYTES) };
}

function storedCrc(key: Uint8Array, b: Buffer): number {
  return crc32c(b, 4, b.length, crc32c(key));
}

/**
 * upgradeValueLayout rewrites a layout-1 or layout-2 environment's values into this layout
 * (layout 1's with seq 0 and no expiry) and records the layout, all in one synchronous write
 * transaction: a crash part-way leaves the old layout untouched, to be upgraded again at the next
 * open. Returns how many values it rewrote.
 */
export function upgradeValueLayout(
  root: RootDatabase,
  data: Database<Buffer, Uint8Array>,
  meta: Database<number, string>,
): number {
  const layout = meta.get(META_VALUE_LAYOUT);
  if (layout === LMDB_VALUE_LAYOUT) return 0;
  if (layout !== undefined && layout !== LMDB_VALUE_LAYOUT_NO_CRC)
    throw new Error(`LMDB value layout ${layout} is not one this build reads (${LMDB_VALUE_LAYOUT})`);
  let rewritten = 0;
  root.transactionSync(() => {
    const old = [...data.getRange({})].map(({ key, value }) => ({ key, value: Buffer.from(value) }));
    for (const { key, value } of old) {
      const stored =
        layout === undefined
          ? encodeStoredValue(key, 0, 0, value)
          : encodeStoredValue(key, readU64(value, 0), readU64(value, 8), value.subarray(NO_CRC_HEADER_BYTES));
      data.putSync(key, stored);
    }
    meta.putSync(META_VALUE_LAYOUT, LMDB_VALUE_LAYOUT);
    rewritten = old.length;
  });
  return rewritten;
}
