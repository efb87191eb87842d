/**
 * What a bench says about redirects. Raw connections (`--url` without `--client`) send every key
 * to the one node named, and do not follow a 307 (HTTP) or a -MOVED / -ASK (RESP, counted as 307
 * by wire.ts): at one node of a larger cluster, the keys it does not own fail. That is a choice of
 * target, not a fault of the nodes, so the bench names it and the way to bench the cluster.
 */
import { DistkvError } from '../errors.js';

/** REDIRECT_ADVICE tells how to bench a cluster whose nodes redirect the raw connections' keys. */
export const REDIRECT_ADVICE =
  'raw connections do not follow redirects: bench the cluster with --config FILE, or --client with an http:// URL (the client library sends each key to its owner)';

/** redirectCount is how many operations of `byStatus` were redirected (307 or 308). */
export function redirectCount(byStatus: Record<string, number>): number {
  return (byStatus['307'] ?? 0) + (byStatus['308'] ?? 0);
}

/**
 * preloadFailure is the error of a preload of `keys` keys at `target` in which `errors` sets
 * failed, by status: INVALID_ARGUMENT (a usage mistake) when every failure was a redirect or a
 * value over the nodes' limit (413: --value-size over server.max_value_bytes, which was reported as
 * INTERNAL with the statuses), else INTERNAL with the statuses.
 */
export function preloadFailure(
  target: string,
  keys: number,
  errors: number,
  byStatus: Record<string, number>,
): DistkvError {
  const redirected = redirectCount(byStatus);
  if (redirected === errors)
    return new DistkvError(
      'INVALID_ARGUMENT',
      `${target} redirected ${redirected} of ${keys} preload sets to the nodes that own their keys (307, or MOVED over RESP): it is one node of a larger cluster, and ${REDIRECT_ADVICE}`,
    );
  if ((byStatus['413'] ?? 0) === errors)
    return new DistkvError(
      'INVALID_ARGUMENT',
      `${target} refused ${errors} of ${keys} preload sets as too large (413 VALUE_TOO_LARGE): --value-size is over the nodes' server.max_value_bytes`,
    );
  return new DistkvError(
    'INTERNAL',
    `preload failed: ${errors} of ${keys} sets failed (${JSON.stringify(byStatus)})`,
  );
}
