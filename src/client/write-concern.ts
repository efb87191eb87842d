/**
 * concernQuery: a write's (or a read's) `w` and `timeoutMs` as the query a node reads
 * (src/http/write-conditions.ts), with how long the node may hold its answer for the replicas'
 * acks. A `w` write is answered once replicas hold it or its timeout passed, and the node's answer,
 * not a client timeout (which would leave the write's outcome unknown), must say which: the sender
 * waits `waitMs` on top of its own bound.
 */
import { DistkvError } from '../errors.js';
import type { WriteConcern } from './types.js';

/** DEFAULT_W_TIMEOUT_MS is how long a node waits for a `w` write's acks without timeout_ms (src/http/write-conditions.ts). */
export const DEFAULT_W_TIMEOUT_MS = 5000;

/** concernQuery renders `o`'s `w` and `timeoutMs` (and `extra` parameters) as a query, with the node's wait (see above). */
export function concernQuery(
  o: WriteConcern,
  extra: readonly [string, string][] = [],
): { query: string; waitMs: number } {
  // timeoutMs bounds only the wait for `w`: given alone, the caller meant a wait that would not
  // happen (a node reads timeout_ms only with w), so it is refused rather than dropped.
  if (o.w === undefined && o.timeoutMs !== undefined)
    throw new DistkvError(
      'INVALID_ARGUMENT',
      'timeoutMs bounds the wait for w (replicas holding the write, or what a read saw) and is given without w: give w too, or bound the whole call with signal',
    );
  const params = new URLSearchParams();
  if (o.w !== undefined) params.set('w', String(o.w));
  if (o.timeoutMs !== undefined) params.set('timeout_ms', String(o.timeoutMs));
  for (const [name, value] of extra) params.set(name, value);
  return {
    query: params.size === 0 ? '' : `?${params.toString()}`,
    waitMs: o.w === undefined ? 0 : (o.timeoutMs ?? DEFAULT_W_TIMEOUT_MS),
  };
}
