/**
 * The value arithmetic of the read-modify-write ops (op-format.ts): INCR's integer rules, which are
 * Redis's (a decimal signed 64-bit integer without sign prefix, spaces or leading zeros; a
 * missing key counts as 0; overflow is refused), and the `old` encoding of SET_IF and DELETE_COUNTED.
 */
import { DistkvError } from '../errors.js';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const DECIMAL = /^(0|-?[1-9][0-9]{0,19})$/;

/** NOT_AN_INTEGER is Redis's message for a value or delta that is not a 64-bit integer. */
export const NOT_AN_INTEGER = 'value is not an integer or out of range';
/** OVERFLOW is Redis's message for an INCR whose result leaves 64 bits. */
export const OVERFLOW = 'increment or decrement would overflow';

/** parseInt64 parses a decimal 64-bit integer as Redis does, or returns undefined. */
export function parseInt64(text: string): bigint | undefined {
  if (!DECIMAL.test(text)) return undefined;
  const n = BigInt(text);
  return n < INT64_MIN || n > INT64_MAX ? undefined : n;
}

/** incremented returns the decimal bytes of `current + delta`, throwing INVALID_ARGUMENT as Redis words it. */
export function incremented(current: Uint8Array | null | undefined, delta: Uint8Array): Buffer {
  const d = parseInt64(Buffer.from(delta).toString('latin1'));
  if (d === undefined) throw new DistkvError('INVALID_ARGUMENT', NOT_AN_INTEGER);
  const c = current == null ? 0n : parseInt64(Buffer.from(current).toString('latin1'));
  if (c === undefined) throw new DistkvError('INVALID_ARGUMENT', NOT_AN_INTEGER);
  const sum = c + d;
  if (sum < INT64_MIN || sum > INT64_MAX) throw new DistkvError('INVALID_ARGUMENT', OVERFLOW);
  return Buffer.from(sum.toString(), 'latin1');
}

/** encodeOld encodes a key's previous value as `old` (0x00 missing | 0x01 bytes). */
export function encodeOld(value: Uint8Array | null | undefined): Buffer {
  if (value == null) return Buffer.of(0);
  const out = Buffer.allocUnsafe(value.length + 1);
  out[0] = 1;
  out.set(value, 1);
  return out;
}

/** decodeOld returns the previous value from `old`, or undefined when the key was missing. */
export function decodeOld(old: Uint8Array): Uint8Array | undefined {
  return old[0] === 1 ? old.subarray(1) : undefined;
}
