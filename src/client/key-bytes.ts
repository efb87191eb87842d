/**
 * Keys as the client library takes them: text (sent as UTF-8) or bytes, for a key that is not
 * UTF-8 (written over RESP or as `/kv/%FF...`, docs/api.md): such a key reaches `/kv/{key}`
 * percent-encoded byte by byte, and is routed by the slot of its bytes, as the server routes it.
 */
import type { ShardMap } from '../routing/shard-map.js';
import { slotOfBytes } from '../routing/slot.js';

/** Key is a key as text or as its exact bytes. */
export type Key = string | Uint8Array;

/** UNRESERVED are the bytes a path carries as themselves (RFC 3986); every other byte is %XX. */
const UNRESERVED = /[A-Za-z0-9\-._~]/;

/** keyPath returns `key` percent-encoded for `/kv/{key}`. */
export function keyPath(key: Key): string {
  if (typeof key === 'string') return encodeURIComponent(key);
  let out = '';
  for (const b of key) {
    const c = String.fromCharCode(b);
    out += b < 0x80 && UNRESERVED.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** shardOfKey returns the index of the shard owning `key` in `map`. */
export function shardOfKey(map: ShardMap, key: Key): number {
  return typeof key === 'string' ? map.shardOf(key) : map.shardOfSlot(slotOfBytes(key));
}

/** keyText shows `key` in a message: text as a JSON string, bytes in hex (`0x6bff`). */
export function keyText(key: Key): string {
  return typeof key === 'string' ? JSON.stringify(key) : `0x${Buffer.from(key).toString('hex')}`;
}
