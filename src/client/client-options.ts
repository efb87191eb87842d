/**
 * checkOptions: a DistkvClient's options as JavaScript may pass them (no types to stop it),
 * refused with INVALID_ARGUMENT naming the option before anything is built. A misspelt option
 * (`nodes` for `urls`) threw a bare TypeError from deep inside; one for a setting (`timeout` for
 * `timeoutMs`) was ignored without a word, and a timeout of "5000" or -1 reached undici.
 */
import { DistkvError } from '../errors.js';
import type { ClientOptions } from './types.js';

/** KINDS is what each option takes; every option of ClientOptions is here. */
const KINDS: Record<
  keyof ClientOptions,
  'urls' | 'string' | 'boolean' | 'timeout' | 'ms' | 'count' | 'positive' | 'ca' | 'function'
> = {
  urls: 'urls',
  token: 'string',
  replicaReads: 'boolean',
  timeoutMs: 'timeout',
  retries: 'count',
  connections: 'positive',
  ca: 'ca',
  refusedWaitMs: 'ms',
  switchWaitMs: 'ms',
  startingWaitMs: 'ms',
  onWait: 'function',
  describeTimeout: 'function',
};

/**
 * MAX_TIMEOUT_MS is the longest timeoutMs: the longest a timer waits (2^31-1 ms, about 24.8 days).
 * A longer one (3e9, meant as "for ever") fired after 1 ms where the client sets a timer (cluster()
 * giving each node one attempt's time), and Number.MAX_SAFE_INTEGER threw a RangeError there.
 */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** checkOptions throws INVALID_ARGUMENT naming the first option that is unknown or of the wrong kind. */
export function checkOptions(options: unknown): asserts options is ClientOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw new DistkvError(
      'INVALID_ARGUMENT',
      'DistkvClient takes an options object: { urls: ["host:port"] }',
    );
  const known = Object.keys(KINDS);
  for (const [name, value] of Object.entries(options)) {
    const kind = KINDS[name as keyof ClientOptions] as (typeof KINDS)[keyof ClientOptions] | undefined;
    if (kind === undefined)
      throw new DistkvError(
        'INVALID_ARGUMENT',
        `DistkvClient has no option "${name}" (its options: ${known.join(', ')})`,
      );
    if (value === undefined && name !== 'urls') continue;
    const problem = problemOf(kind, value);
    if (problem !== undefined)
      throw new DistkvError('INVALID_ARGUMENT', `DistkvClient option ${name} ${problem}`);
  }
  if (!('urls' in options))
    throw new DistkvError('INVALID_ARGUMENT', 'DistkvClient needs urls: ["host:port", ...]');
}

/** problemOf says what is wrong with `value` for an option of `kind` (undefined: nothing). */
function problemOf(kind: (typeof KINDS)[keyof ClientOptions], value: unknown): string | undefined {
  const got = `, got ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`;
  switch (kind) {
    case 'urls':
      if (!Array.isArray(value) || value.length === 0)
        return `must be a list of one or more "host:port"${got}`;
      return value.every((u) => typeof u === 'string') ? undefined : `must hold strings ("host:port")${got}`;
    case 'string':
      return typeof value === 'string' ? undefined : `must be a string${got}`;
    case 'boolean':
      return typeof value === 'boolean' ? undefined : `must be true or false${got}`;
    case 'timeout':
      return typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= MAX_TIMEOUT_MS
        ? undefined
        : `must be a number of milliseconds from 0 (no timeout) to ${MAX_TIMEOUT_MS}, the longest a timer waits${got}`;
    case 'ms':
      return typeof value === 'number' && Number.isFinite(value) && value >= 0
        ? undefined
        : `must be a number of milliseconds, 0 or more${got}`;
    case 'count':
      return Number.isSafeInteger(value) && (value as number) >= 0
        ? undefined
        : `must be a whole number, 0 or more${got}`;
    case 'positive':
      return Number.isSafeInteger(value) && (value as number) >= 1
        ? undefined
        : `must be a whole number, 1 or more${got}`;
    case 'ca':
      return typeof value === 'string' || Buffer.isBuffer(value)
        ? undefined
        : `must be PEM text or a Buffer${got}`;
    case 'function':
      return typeof value === 'function' ? undefined : `must be a function${got}`;
  }
}
