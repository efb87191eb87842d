/**
 * CRC16-CCITT in its XMODEM variant (polynomial 0x1021, initial value 0, no reflection, no final
 * xor): the checksum Redis Cluster hashes keys with. Check value: crc16("123456789") = 0x31C3.
 *
 * Table-driven, one byte per step; the table is built once when the module loads.
 */

const POLY = 0x1021;

function buildTable(): Uint16Array {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let b = 0; b < 8; b++) crc = crc & 0x8000 ? ((crc << 1) ^ POLY) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
}

const TABLE = buildTable();

/** crc16 returns the XMODEM CRC16 of `bytes[start, end)`. */
export function crc16(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0;
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >>> 8) ^ bytes[i]!) & 0xff]!;
  return crc;
}
