/**
 * Keys as the client library takes them: text (sent as UTF-8) or bytes, for a key that is not
 * UTF-8 (written over RESP or as `/kv/%FF...`, docs/api.md): such a key reaches `/kv/{key}`
 * percent-encoded byte by byte, and is routed by the slot of its bytes, as the server routes it.
 */
import { DistkvError } from '../errors.js';
import type { ShardMap } from '../routing/shard-map.js';
import { slotOfBytes } from '../routing/slot.js';

/** Key is a key as text or as its exact bytes. */
export type Key = string | Uint8Array;

/** UNRESERVED are the bytes a path carries as themselves (RFC 3986); every other byte is %XX. */
const UNRESERVED = /[A-Za-z0-9\-._~]/;

/**
 * keyPath returns `key` percent-encoded for `/kv/{key}`. A leading `_` is sent as `%5F`: the
 * server's routes under `/kv/` (`/kv/_batch`) match the path as sent, before it is decoded, so the
 * key `_batch` sent as itself would reach the batch endpoint (405), while `/kv/%5Fbatch` is the key.
 */
export function keyPath(key: Key): string {
  let out = '';
  if (typeof key === 'string') out = encodeURIComponent(key);
  else
    for (const b of key) {
      const c = String.fromCharCode(b);
      out += b < 0x80 && UNRESERVED.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
    }
  return out.startsWith('_') ? `%5F${out.slice(1)}` : out;
}

/** shardOfKey returns the index of the shard owning `key` in `map`. */
export function shardOfKey(map: ShardMap, key: Key): number {
  return typeof key === 'string' ? map.shardOf(key) : map.shardOfSlot(slotOfBytes(key));
}

/** keyText shows `key` in a message: text as a JSON string, bytes in hex (`0x6bff`). */
export function keyText(key: Key): string {
  return typeof key === 'string' ? JSON.stringify(key) : `0x${Buffer.from(key).toString('hex')}`;
}

/** LONE_SURROGATE matches a UTF-16 surrogate that is not half of a pair: no UTF-8 encodes it. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * checkText throws when `text` (a key, value, prefix or cursor given as a string) has a lone
 * surrogate: sent as UTF-8 it would become U+FFFD, so another key or value than the caller's would
 * be written or read without a word. A key is INVALID_KEY (the server's code for it), the rest
 * INVALID_ARGUMENT; `what` names it.
 */
export function checkText(text: string, what: 'key' | 'value' | 'prefix' | 'after'): void {
  if (LONE_SURROGATE.test(text))
    throw new DistkvError(
      what === 'key' ? 'INVALID_KEY' : 'INVALID_ARGUMENT',
      `${what} has a lone UTF-16 surrogate, which is not a Unicode character (pass bytes for bytes that are not UTF-8)`,
    );
}

/** typeName names what a caller passed in place of a string or bytes, for a message. */
function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
}

/**
 * checkInput throws for a key, value, scan prefix or cursor that is neither text nor bytes (from
 * JavaScript: undefined, null, a number), before anything is sent, and checks text as checkText
 * does. A key is INVALID_KEY, the rest INVALID_ARGUMENT. Such input failed with a bare TypeError
 * (a null key or prefix), or was stored as an empty value (a forgotten one), or was reported as a
 * node that could not be reached, the put "may have been applied" (a number).
 */
export function checkInput(v: unknown, what: 'key' | 'value' | 'prefix' | 'after'): void {
  if (typeof v === 'string') checkText(v, what);
  else if (!(v instanceof Uint8Array))
    throw new DistkvError(
      what === 'key' ? 'INVALID_KEY' : 'INVALID_ARGUMENT',
      `${what} must be a string or bytes (Buffer, Uint8Array), got ${typeName(v)}`,
    );
}
