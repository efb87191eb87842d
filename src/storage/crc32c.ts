/**
 * CRC-32C (Castagnoli), the checksum of WAL records and SSTable blocks, computed slicing-by-8 in
 * JavaScript (Node 20 has no built-in CRC-32C). Checked against published vectors in
 * test/unit/crc32c.test.ts.
 */

const POLY = 0x82f63b78;

/**
 * TABLES holds slicing-by-8's eight 256-entry tables back to back (table k at k * 256), as int32:
 * with a Uint32Array per table, the XORs of loaded entries above 2^31 ran about 1.4-1.8x slower
 * (bench/micro/storage/crc32c.bench.ts, docs/performance.md, "The worker's CPU per PUT").
 */
const TABLES = makeTables();

function makeTables(): Int32Array {
  const t = new Int32Array(8 * 256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[i] = c;
  }
  for (let s = 1; s < 8; s++)
    for (let i = 0; i < 256; i++) {
      const prev = t[(s - 1) * 256 + i]!;
      t[s * 256 + i] = (prev >>> 8) ^ t[prev & 0xff]!;
    }
  return t;
}

/** crc32c returns the CRC-32C of bytes[start, end), continuing from `crc` (0 to start). */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length, crc = 0): number {
  const t = TABLES;
  let c = ~crc;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    const lo = c ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
    c =
      t[1792 + (lo & 0xff)]! ^
      t[1536 + ((lo >>> 8) & 0xff)]! ^
      t[1280 + ((lo >>> 16) & 0xff)]! ^
      t[1024 + (lo >>> 24)]! ^
      t[768 + bytes[i + 4]!]! ^
      t[512 + bytes[i + 5]!]! ^
      t[256 + bytes[i + 6]!]! ^
      t[bytes[i + 7]!]!;
  }
  for (; i < end; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
