/**
 * checkCallOptions: the options a DistkvClient call takes, as JavaScript may pass them (no types to
 * stop it), refused with INVALID_ARGUMENT naming the call and the option before anything is sent,
 * as checkOptions (client-options.ts) does for the client's own. A misspelt option was ignored
 * without a word: `put(k, v, { ttl: 60000 })` stored a key that never expires, `{ if_match: v }`
 * overwrote whatever the key held, and `get(k, null)` threw a bare TypeError.
 *
 * checkExpiryOptions does the same for a put's `ttlMs` and `expiresAtMs`, with the bounds and the
 * wording of a batch's `ttl_ms` and `expires_at_ms` (src/http/batch-parse.ts): a put rendered any
 * value into the query, so `{ ttlMs: '100' }` expired the key after 100 ms and `{ ttlMs: [5] }`
 * after 5, where batch() refused the same operation.
 */
import { DistkvError } from '../errors.js';

/** CALL_OPTIONS are the options each call takes (every one of them takes `signal`). */
export const CALL_OPTIONS = {
  get: ['signal', 'w', 'timeoutMs'],
  put: ['signal', 'w', 'timeoutMs', 'ttlMs', 'expiresAtMs', 'ifMatch', 'ifNoneMatch'],
  delete: ['signal', 'w', 'timeoutMs', 'ifMatch'],
  scanPage: ['signal', 'limit', 'after'],
  scan: ['signal', 'pageSize', 'after'],
  call: ['signal'],
  cluster: ['signal', 'refusedWaitMs'],
} as const;

/** checkCallOptions throws INVALID_ARGUMENT when `options` of `call` (named `name`) is no object, has an option the call does not take, or a signal that is no AbortSignal. */
export function checkCallOptions(options: unknown, call: keyof typeof CALL_OPTIONS, name: string): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw new DistkvError(
      'INVALID_ARGUMENT',
      `${name} takes its options as an object, got ${options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options}`,
    );
  const known: readonly string[] = CALL_OPTIONS[call];
  for (const option of Object.keys(options))
    if (!known.includes(option))
      throw new DistkvError(
        'INVALID_ARGUMENT',
        `${name} has no option "${option}" (its options: ${known.join(', ')})`,
      );
  const signal = (options as { signal?: unknown }).signal;
  if (signal !== undefined && !(signal instanceof AbortSignal))
    throw new DistkvError(
      'INVALID_ARGUMENT',
      `${name} option signal must be an AbortSignal, got ${typeof signal}`,
    );
}

/** MAX_TTL_MS bounds `ttlMs`: ten years, the node's bound (src/http/write-conditions.ts). */
export const MAX_TTL_MS = 10 * 365 * 86400 * 1000;

/**
 * checkExpiryOptions throws INVALID_ARGUMENT when `options` of `name` has a `ttlMs` that is not an
 * integer in 1..MAX_TTL_MS, or an `expiresAtMs` that is not one in 1..now + MAX_TTL_MS (this
 * process's clock, as `distkv set --expires-at` reads it; the node checks it again by its own), or
 * both (the node refuses them together: src/http/write-conditions.ts, batch-parse.ts).
 */
export function checkExpiryOptions(options: { ttlMs?: unknown; expiresAtMs?: unknown }, name: string): void {
  const { ttlMs, expiresAtMs } = options;
  if (ttlMs !== undefined && expiresAtMs !== undefined)
    throw new DistkvError(
      'INVALID_ARGUMENT',
      `${name}: give ttlMs (milliseconds from now) or expiresAtMs (Unix time in milliseconds), not both`,
    );
  if (ttlMs !== undefined && !isIntegerIn(ttlMs, MAX_TTL_MS))
    throw new DistkvError(
      'INVALID_ARGUMENT',
      `${name} option ttlMs must be an integer in 1..${MAX_TTL_MS} (milliseconds), got ${shown(ttlMs)}`,
    );
  if (expiresAtMs === undefined) return;
  const latest = Date.now() + MAX_TTL_MS;
  if (!isIntegerIn(expiresAtMs, latest))
    throw new DistkvError(
      'INVALID_ARGUMENT',
      `${name} option expiresAtMs must be an integer in 1..${latest} (Unix time in milliseconds, at most ten years ahead), got ${shown(expiresAtMs)}`,
    );
}

/** isIntegerIn tells whether `n` is a number that is an integer in 1..`max`. */
function isIntegerIn(n: unknown, max: number): boolean {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= max;
}

/** shown writes an option's value in a message: a number as is, a string quoted, else its type. */
function shown(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}
