/**
 * Key hashes for the memtable's index (memtable.ts): one 32-bit hash of a key's bytes, computed
 * the same from the bytes (a write, straight from a request or log batch) and from the latin1
 * string of those bytes (a read, which has the string for every level). FNV-1a over the bytes,
 * then murmur3's finalizer, so that keys differing only in their last bytes (key1, key2, ...)
 * spread over the whole table.
 *
 * The FNV basis is mixed with a random seed drawn once per process: the keys are the clients', and
 * with a fixed hash a client could compute thousands of keys that land on one probe run and make
 * every insert and lookup walk it (hash flooding). Nothing stores these hashes; each process may
 * hash differently.
 */
import { randomBytes } from 'node:crypto';

/** BASIS is FNV-1a's offset basis mixed with this process's random seed. */
const BASIS = (0x811c9dc5 ^ randomBytes(4).readUInt32LE(0)) >>> 0;

/** hashBytes hashes the key at [start, end) of `b`. */
export function hashBytes(b: Uint8Array, start: number, end: number): number {
  let h = BASIS;
  for (let i = start; i < end; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return fmix32(h);
}

/** hashLatin1 hashes the key whose latin1 string is `s` (equal to hashBytes of its bytes). */
export function hashLatin1(s: string): number {
  let h = BASIS;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return fmix32(h);
}

/** fmix32 is murmur3's 32-bit finalizer: every input bit affects every output bit (the bloom filter's hash ends with it too). */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
