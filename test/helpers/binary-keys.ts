/**
 * Keys made of bytes that are not UTF-8 (and of U+FFFD itself, NUL and multi-byte characters), for
 * the tests of scans over such keys: their text in JSON is lossy, their bytes must travel exactly.
 */
import { compareBytes } from '../../src/util/bytes.js';

/** PIECES are what a key is made of: ASCII, bytes that are never UTF-8, U+FFFD itself, NUL, é, an emoji. */
export const PIECES: readonly number[][] = [
  [0x61],
  [0x62],
  [0x31],
  [0x80],
  [0xc0],
  [0xff],
  [0xef, 0xbf, 0xbd],
  [0x00],
  [0xc3, 0xa9],
  [0xf0, 0x9f, 0x98, 0x80],
];

/** randomKeys returns `n` distinct keys under `prefix`, each 1..8 pieces after it. */
export function randomKeys(rand: () => number, prefix: string, n: number): Buffer[] {
  const keys = new Map<string, Buffer>();
  while (keys.size < n) {
    const bytes = [...Buffer.from(prefix)];
    const pieces = 1 + Math.floor(rand() * 8);
    for (let i = 0; i < pieces; i++) bytes.push(...PIECES[Math.floor(rand() * PIECES.length)]!);
    const key = Buffer.from(bytes);
    keys.set(key.toString('hex'), key);
  }
  return [...keys.values()].sort(compareBytes);
}

/** bytesOfPath decodes a percent-encoded path into bytes, as the server reads `/kv/{key}`. */
export function bytesOfPath(path: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < path.length; i++) {
    if (path[i] === '%') {
      out.push(parseInt(path.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(path.charCodeAt(i));
  }
  return Buffer.from(out);
}
