/**
 * Redirects the client follows: a 307 from a node names the owner of a key or a shard, and the
 * client sends its token, values and a watch's prefix after it only when it names a node of the
 * cluster (curl's rule without --location-trusted; fetch's with Authorization on a cross-origin
 * redirect), never from https to http. Used by the sender (requests) and the watch (streams).
 */
import { DistkvError } from '../errors.js';
import { abortable } from './exchange.js';
import type { ClusterTopology } from './topology.js';

/**
 * redirectTarget is the URL a redirect by `by` to `location` names (a relative one resolved against
 * `by`), or REDIRECT_REFUSED when it names none a request can go to (not a URL, or one without a
 * host, as `javascript:` or `data:`): the parse's bare TypeError ("Invalid URL") named neither the
 * node nor the request.
 */
export function redirectTarget(location: string, by: string, what: string): URL {
  let u: URL | undefined;
  try {
    u = new URL(location, by);
  } catch {
    u = undefined;
  }
  if (u === undefined || u.origin === 'null')
    throw new DistkvError(
      'REDIRECT_REFUSED',
      `${by} redirected ${what} to ${JSON.stringify(location.slice(0, 200))}, not followed: that is not the URL of a node`,
    );
  return u;
}

/**
 * checkRedirect refuses (REDIRECT_REFUSED, the request not sent there) a redirect by `by` to `to`
 * that is not a node of the cluster, as curl does without --location-trusted and fetch does
 * with Authorization on a cross-origin redirect: the token, the body and a watch's prefix go to the
 * cluster's nodes only, and never from https to http. A node the client does not know yet (a map
 * it has not loaded) is looked for at every node first. `what` names the request ("PUT /kv/k").
 */
export async function checkRedirect(
  topology: ClusterTopology,
  to: URL,
  by: string,
  what: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  if (to.origin === 'null') redirectTarget(to.href, by, what);
  if (topology.trusts(to.origin)) return;
  const scheme = topology.scheme;
  if (to.protocol === `${scheme}:`) {
    await abortable(topology.loadNewest(), signal).catch(() => undefined);
    if (topology.trusts(to.origin)) return;
  }
  const why =
    to.protocol === `${scheme}:`
      ? `${to.host} is not a node of the cluster's map`
      : scheme === 'https'
        ? 'a client of https nodes does not follow a redirect to http (it would send the token in the clear)'
        : `the client talks ${scheme} to the cluster's nodes`;
  throw new DistkvError(
    'REDIRECT_REFUSED',
    `${by} redirected ${what} to ${to.origin}, not followed: ${why}; the client sends its token and values to the cluster's nodes only`,
  );
}
