/**
 * Slot hashing, exactly as Redis Cluster computes it: `slot = crc16(k) mod 16384` where `k` is the
 * key's UTF-8 bytes, or only the bytes between the first `{` and the first `}` after it when that
 * hash tag is non-empty ("{user1000}.following" and "{user1000}.followers" share a slot; "foo{}{bar}"
 * hashes the whole key). The one routing function of the server, the client library and the load
 * generator, so Redis cluster clients compute the same owner as distkv does (docs/resp.md).
 *
 * A key given as a string is hashed from its characters when the hashed part is ASCII (each
 * character is then its one UTF-8 byte), with no copy; any other key is encoded into a scratch byte
 * buffer first, which `SlotHasher` keeps, so one instance serves one thread.
 */
import { crc16 } from './crc16.js';

/** SLOT_COUNT is the number of hash slots the key space is divided into. */
export const SLOT_COUNT = 16384;

/** SLOT_FUNCTION names the slot function; data directories record it (src/server/data-format.ts). */
export const SLOT_FUNCTION = 'crc16-redis-cluster';

const SCRATCH_BYTES = 4096;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/** BYTE_CRC[b] is crc16 of the one byte b: the table crc16.ts steps with, taken from crc16 itself. */
const BYTE_CRC = Uint16Array.from({ length: 256 }, (_, b) => crc16(Uint8Array.of(b)));

/**
 * asciiCrc16 returns the crc16 of the characters [start, end) of `s` taken as bytes, or -1 when
 * one of them is not ASCII (its UTF-8 is then more than the character's code). About a third of
 * the instructions per character of copying the key into bytes and hashing those.
 */
function asciiCrc16(s: string, start: number, end: number): number {
  let crc = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) return -1;
    crc = ((crc << 8) & 0xffff) ^ BYTE_CRC[(crc >>> 8) ^ c]!;
  }
  return crc;
}

/**
 * asciiSlot returns the slot of a string key whose hashed part (its hash tag, else all of it) is
 * ASCII, else -1. A key without `{` is hashed in the one pass that looks for it (no search call
 * first); one with `{` looks for its tag among the characters: UTF-8 never encodes a non-ASCII
 * character with the bytes of `{` or `}`, so the first `{` and the first `}` after it are the
 * same characters in the string as in its bytes, and the tag between them is the same text.
 */
function asciiSlot(key: string): number {
  let crc = 0;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c > 0x7f || c === OPEN_BRACE) return c === OPEN_BRACE ? taggedSlot(key, i) : -1;
    crc = ((crc << 8) & 0xffff) ^ BYTE_CRC[(crc >>> 8) ^ c]!;
  }
  return crc & (SLOT_COUNT - 1);
}

/** taggedSlot is asciiSlot for a key whose first `{` is at `open`. */
function taggedSlot(key: string, open: number): number {
  const close = key.indexOf('}', open + 1);
  const crc = close > open + 1 ? asciiCrc16(key, open + 1, close) : asciiCrc16(key, 0, key.length);
  return crc < 0 ? -1 : crc & (SLOT_COUNT - 1);
}

/**
 * slotOfRange returns the slot of the key held in `bytes[0, length)`. A key without `{` is hashed
 * in the one pass that looks for it, as `asciiSlot` hashes a string (the search and the hash were
 * two passes); the searches are plain loops bounded by `length`: `indexOf` would scan the whole
 * scratch buffer behind a short key.
 */
function slotOfRange(bytes: Uint8Array, length: number): number {
  let crc = 0;
  for (let i = 0; i < length; i++) {
    const b = bytes[i]!;
    if (b === OPEN_BRACE) return taggedSlotOfRange(bytes, length, i);
    crc = ((crc << 8) & 0xffff) ^ BYTE_CRC[(crc >>> 8) ^ b]!;
  }
  return crc & (SLOT_COUNT - 1);
}

/** taggedSlotOfRange is slotOfRange for a key whose first `{` is at `open`. */
function taggedSlotOfRange(bytes: Uint8Array, length: number, open: number): number {
  let close = open + 1;
  while (close < length && bytes[close] !== CLOSE_BRACE) close++;
  if (close < length && close > open + 1) return crc16(bytes, open + 1, close) & (SLOT_COUNT - 1);
  return crc16(bytes, 0, length) & (SLOT_COUNT - 1);
}

/** SlotHasher maps keys to slots without allocating for ASCII keys and for others up to 1365 UTF-16 units. */
export class SlotHasher {
  private readonly scratch = new Uint8Array(SCRATCH_BYTES);
  private readonly encoder = new TextEncoder();

  /** slotOfBytes returns the slot of a key given as its UTF-8 bytes. */
  slotOfBytes(bytes: Uint8Array): number {
    return slotOfRange(bytes, bytes.length);
  }

  /** slotOf returns the slot of a key given as a string (hashed as UTF-8). */
  slotOf(key: string): number {
    const ascii = asciiSlot(key);
    if (ascii >= 0) return ascii;
    if (key.length * 3 <= SCRATCH_BYTES)
      return slotOfRange(this.scratch, this.encoder.encodeInto(key, this.scratch).written);
    return this.slotOfBytes(this.encoder.encode(key));
  }
}

// One hasher per thread: each worker thread loads its own copy of this module, and calls never
// interleave within a thread, so the scratch state inside it is never shared.
const THREAD_HASHER = new SlotHasher();

/** slotOf returns the slot of `key` (a string, hashed as UTF-8) using this thread's hasher. */
export function slotOf(key: string): number {
  return THREAD_HASHER.slotOf(key);
}

/** slotOfBytes returns the slot of a key given as UTF-8 bytes using this thread's hasher. */
export function slotOfBytes(key: Uint8Array): number {
  return THREAD_HASHER.slotOfBytes(key);
}

/**
 * prefixSlot returns the one slot of every key that starts with `prefix` when the prefix holds a
 * whole non-empty hash tag (its first `{`, then a `}` after at least one byte: every such key has
 * the same tag), else undefined (keys under it may hash to any slot).
 */
export function prefixSlot(prefix: Uint8Array): number | undefined {
  const open = prefix.indexOf(OPEN_BRACE);
  const close = open < 0 ? -1 : prefix.indexOf(CLOSE_BRACE, open + 1);
  return close > open + 1 ? slotOfBytes(prefix) : undefined;
}
