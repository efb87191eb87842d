/**
 * Byte-string helpers shared by the stores and the HTTP layer. Keys are compared as raw bytes
 * (UTF-8 byte order equals code point order), never as JavaScript strings.
 */
import { isUtf8 } from 'node:buffer';

/** compareBytes orders two byte strings lexicographically (-1, 0, 1). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

/** hasPrefix reports whether `key` starts with `prefix`. */
export function hasPrefix(key: Uint8Array, prefix: Uint8Array): boolean {
  if (key.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (key[i] !== prefix[i]) return false;
  return true;
}

/** prefixEnd returns the smallest byte string greater than every string with `prefix`, or undefined if none. */
export function prefixEnd(prefix: Uint8Array): Uint8Array | undefined {
  let n = prefix.length;
  while (n > 0 && prefix[n - 1] === 0xff) n--;
  if (n === 0) return undefined;
  const end = Uint8Array.prototype.slice.call(prefix, 0, n);
  end[n - 1]! += 1;
  return end;
}

/** successor returns the smallest byte string greater than `key` (key + 0x00). */
export function successor(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(key.length + 1);
  out.set(key);
  return out;
}

/** latin1Key maps bytes 1:1 onto a string usable as a Map key (string order equals byte order). */
export function latin1Key(bytes: Uint8Array): string {
  // Buffer's latin1Slice is the fast path (no encoding lookup); plain Uint8Arrays get a Buffer view first.
  const b = bytes instanceof Buffer ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return (b as Buffer & { latin1Slice(start: number, end: number): string }).latin1Slice(0, b.length);
}

/**
 * bytesQuery names bytes in a query as `name` when they are UTF-8 text, as `name_base64` when
 * they are not (as text they would stand for other bytes: U+FFFD matches other keys).
 */
function bytesQuery(name: string, value: string | Uint8Array): Record<string, string> {
  if (typeof value === 'string') return { [name]: value };
  const b = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  return isUtf8(b) ? { [name]: b.toString('utf8') } : { [`${name}_base64`]: b.toString('base64') };
}

/** scanAfterQuery is the query parameter a scan resumes with (docs/api.md): `after` or `after_base64`. */
export function scanAfterQuery(after: string | Uint8Array | undefined): {
  after?: string;
  after_base64?: string;
} {
  return after === undefined ? {} : bytesQuery('after', after);
}

/** prefixQuery is the query parameter a scan or a watch asks for its prefix with (docs/api.md): `prefix` or `prefix_base64`. */
export function prefixQuery(prefix: string | Uint8Array): { prefix?: string; prefix_base64?: string } {
  return bytesQuery('prefix', prefix);
}
