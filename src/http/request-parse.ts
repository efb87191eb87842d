/**
 * Parsing of what a request carries in its URL: keys from `/kv/{key}` paths and query strings.
 * Everything here is synchronous and throws DistkvError with the field named.
 */
import { DistkvError } from '../errors.js';

/** decodeComponent percent-decodes one URL component ('+' stays '+' unless `plusIsSpace`). */
export function decodeComponent(raw: string, field: string, plusIsSpace: boolean): string {
  let text = raw;
  if (plusIsSpace && text.includes('+')) text = text.replaceAll('+', ' ');
  if (text.includes('\uFFFD')) {
    throw new DistkvError(
      'INVALID_KEY',
      `${field} is not valid UTF-8 (send non-ASCII bytes percent-encoded)`,
    );
  }
  if (!text.includes('%')) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    throw new DistkvError('INVALID_KEY', `${field} has invalid percent-encoding or is not valid UTF-8`);
  }
}

const LONE_SURROGATE = /\p{Cs}/u;

/** isWellFormed reports whether a string has no lone UTF-16 surrogate (so it encodes to UTF-8 as is). */
export function isWellFormed(text: string): boolean {
  // A loop finds the usual answer (no surrogate at all) faster than the Unicode regex.
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) return !LONE_SURROGATE.test(text);
  }
  return true;
}

/** checkKey validates a decoded key: non-empty, well-formed Unicode, at most `maxBytes` UTF-8 bytes. */
export function checkKey(key: string, maxBytes: number): void {
  if (key.length === 0) throw new DistkvError('MISSING_KEY', `key is empty; expected 1 to ${maxBytes} bytes`);
  if (!isWellFormed(key))
    throw new DistkvError('INVALID_KEY', 'key has a lone UTF-16 surrogate, which is not a Unicode character');
  // A UTF-16 code unit is at most 3 UTF-8 bytes, so short keys need no byte count.
  if (key.length * 3 > maxBytes) {
    const bytes = Buffer.byteLength(key);
    if (bytes > maxBytes) throw new DistkvError('INVALID_KEY', `key is ${bytes} bytes; limit is ${maxBytes}`);
  }
}

const PERCENT_BYTE = /%([0-9A-Fa-f]{2})/g;
const BAD_PERCENT = /%(?![0-9A-Fa-f]{2})/;

/**
 * percentBytes percent-decodes `raw` into bytes (a key that is not UTF-8), or returns undefined
 * when a '%' is not followed by two hex digits or `raw` holds a character that is not ASCII (bytes
 * that are not UTF-8 must be sent percent-encoded).
 */
function percentBytes(raw: string): Buffer | undefined {
  if (BAD_PERCENT.test(raw) || /[\u0080-\uffff]/.test(raw)) return undefined;
  return Buffer.from(
    raw.replaceAll(PERCENT_BYTE, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))),
    'latin1',
  );
}

/**
 * keyFromPath extracts and validates the key of a `/kv/{key}` URL (everything after the prefix). A
 * key whose percent-encoded bytes are not UTF-8 comes back as those bytes (keys are binary-safe, as
 * over RESP; docs/api.md); every other key as a string.
 */
export function keyFromPath(url: string, prefixLength: number, maxBytes: number): string | Buffer {
  const raw = url.slice(prefixLength);
  let key: string;
  try {
    key = decodeComponent(raw, 'key', false);
  } catch (err) {
    const bytes = percentBytes(raw);
    if (bytes === undefined && BAD_PERCENT.test(raw))
      throw new DistkvError('INVALID_KEY', 'key has a "%" not followed by two hex digits (send "%" as %25)');
    if (bytes === undefined) throw err;
    if (bytes.length > maxBytes)
      throw new DistkvError('INVALID_KEY', `key is ${bytes.length} bytes; limit is ${maxBytes}`);
    return bytes;
  }
  checkKey(key, maxBytes);
  return key;
}

/** QueryParams are the decoded parameters of a query string (first value wins). */
export type QueryParams = Map<string, string>;

/**
 * parseQuery decodes a query string as HTML forms do ('+' is a space). Pairs whose name or value
 * has malformed percent-encoding are reported in `bad` (the seed's Go server silently drops them).
 */
export function parseQuery(qs: string | undefined): { params: QueryParams; bad: string[] } {
  const params: QueryParams = new Map();
  const bad: string[] = [];
  if (qs === undefined || qs === '') return { params, bad };
  for (const pair of qs.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawName = eq < 0 ? pair : pair.slice(0, eq);
    const rawValue = eq < 0 ? '' : pair.slice(eq + 1);
    try {
      const name = decodeComponent(rawName, 'query parameter name', true);
      const value = decodeComponent(rawValue, `query parameter "${name}"`, true);
      if (!params.has(name)) params.set(name, value);
    } catch {
      bad.push(rawName);
    }
  }
  return { params, bad };
}

// The parameters of an empty query: shared, never written (strictQuery's result is read-only).
const NO_PARAMS: ReadonlyMap<string, string> = new Map();

/**
 * strictQuery parses the query of a native-API request (docs/api.md, "Query parameters"): each
 * parameter must be one of `known`, given once, and correctly percent-encoded, else
 * INVALID_ARGUMENT names it. A typo (`ttl=` for `ttl_ms=`) would otherwise be ignored, and the
 * write done without what was asked; `w=1&w=2` has no one meaning. Empty pairs (`a=1&&`) are nothing.
 */
export function strictQuery(qs: string, known: readonly string[]): ReadonlyMap<string, string> {
  if (qs === '') return NO_PARAMS;
  const params: QueryParams = new Map();
  for (const pair of qs.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawName = eq < 0 ? pair : pair.slice(0, eq);
    let name: string;
    let value: string;
    try {
      name = decodeComponent(rawName, 'query parameter name', true);
    } catch {
      throw new DistkvError(
        'INVALID_ARGUMENT',
        `query parameter name "${rawName.slice(0, 100)}" has invalid percent-encoding`,
      );
    }
    if (!known.includes(name))
      throw new DistkvError(
        'INVALID_ARGUMENT',
        `unknown query parameter "${name.slice(0, 100)}"; this endpoint takes ${known.join(', ')}`,
      );
    if (params.has(name)) throw new DistkvError('INVALID_ARGUMENT', `${name} is given twice; give it once`);
    try {
      value = decodeComponent(eq < 0 ? '' : pair.slice(eq + 1), name, true);
    } catch {
      throw new DistkvError('INVALID_ARGUMENT', `${name} has invalid percent-encoding or UTF-8`);
    }
    params.set(name, value);
  }
  return params;
}

/**
 * uintOf reads the text of an integer query parameter by the one rule every such parameter
 * follows (intParam, `ttl_ms` and `expires_at_ms` in write-conditions.ts, the `shards` lists, the
 * relay's loose read of `w` and `timeout_ms` in proxy.ts; docs/api.md): one or more ASCII digits
 * and nothing else, else NaN. No parameter is signed, so a sign is refused (`-0`, `%2B5`; `+5`
 * is " 5": a '+' in a query is a space), and so are spaces, fractions and exponents. Leading
 * zeros are allowed, however many, and mean nothing (`05` is 5, never octal). The caller holds
 * the value to its bounds.
 */
export function uintOf(text: string): number {
  if (text.length === 0) return NaN;
  for (let i = 0; i < text.length; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return NaN;
  }
  return Number(text);
}

/** UINT_RULE says what uintOf takes, for the refusals of integer parameters. */
export const UINT_RULE =
  'give ASCII digits only, with no sign, space, fraction or exponent (a "+" in a query is a space)';

/** shownValue quotes a refused parameter value, at most 40 characters of it. */
export function shownValue(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}...` : text);
}

/**
 * intParam reads an optional integer query parameter within [min, max] (given but empty is a
 * mistake) by uintOf's rule; a refusal names the parameter, its bounds and the rule.
 */
export function intParam(
  params: ReadonlyMap<string, string>,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const text = params.get(name);
  if (text === undefined) return fallback;
  if (text === '')
    throw new DistkvError('INVALID_ARGUMENT', `${name} is empty; expected an integer in ${min}..${max}`);
  const n = uintOf(text);
  if (!(n >= min && n <= max))
    throw new DistkvError(
      'INVALID_ARGUMENT',
      `${name} must be an integer in ${min}..${max}, got ${shownValue(text)}${Number.isNaN(n) ? `: ${UINT_RULE}` : ''}`,
    );
  return n;
}
