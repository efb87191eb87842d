/**
 * checkCallOptions: the options a DistkvClient call takes, as JavaScript may pass them (no types to
 * stop it), refused with INVALID_ARGUMENT naming the call and the option before anything is sent,
 * as checkOptions (client-options.ts) does for the client's own. A misspelt option was ignored
 * without a word: `put(k, v, { ttl: 60000 })` stored a key that never expires, `{ if_match: v }`
 * overwrote whatever the key held, and `get(k, null)` threw a bare TypeError.
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
