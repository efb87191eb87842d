/**
 * Node addresses as users type them: `host:port` (as redis-cli and etcdctl take them),
 * `http://host:port` or `https://host:port`, and the `DISTKV_URL` variable (comma-separated, like
 * `ETCDCTL_ENDPOINTS`). Shared by the client library and the CLI so both accept the same forms.
 */
import { DistkvError } from '../errors.js';

/** DEFAULT_PORT is used when an address gives no port (distkv's default listener). */
export const DEFAULT_PORT = 8080;

/** parseEndpoint returns the origin ("http://127.0.0.1:8080") of an address, or throws INVALID_ARGUMENT. */
export function parseEndpoint(text: string): string {
  const t = text.trim();
  const bad = (why: string): DistkvError =>
    new DistkvError(
      'INVALID_ARGUMENT',
      `"${text}" is not a node address (${why}): expected HOST:PORT or http(s)://HOST:PORT`,
    );
  if (t === '') throw bad('empty');
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(t) ? t : `http://${t}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    // URL refuses a port over 65535 as it refuses garbage: say which it was.
    const port = /:(\d+)$/.exec(withScheme.slice(withScheme.indexOf('//') + 2).split('/')[0]!)?.[1];
    throw bad(port !== undefined && Number(port) > 65535 ? `port ${port} is over 65535` : 'unparsable');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw bad(`scheme ${u.protocol} is not http or https`);
  if (u.hostname === '') throw bad('no host');
  if ((u.pathname !== '/' && u.pathname !== '') || u.search !== '' || u.hash !== '')
    throw bad('a node address has no path or query');
  if (u.username !== '' || u.password !== '') throw bad('credentials go in --token, not in the address');
  // URL drops a port equal to the scheme's default (":80"): read the one written, if any.
  const authority = withScheme.slice(withScheme.indexOf('//') + 2).split('/')[0]!;
  const port = /:(\d+)$/.exec(authority)?.[1] ?? String(DEFAULT_PORT);
  // Port 0 parses (the system picks a port to listen on), but no connection can be made to it.
  if (Number(port) === 0) throw bad('port 0 is no port a node listens on');
  return `${u.protocol}//${u.hostname}:${port}`;
}

/** endpointsFromEnv splits a comma-separated list (DISTKV_URL) into addresses; empty when unset. */
export function endpointsFromEnv(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * nodeAuthority is the "host:port" of the node a call names (`cluster(node)`, `nodeStats(node)`),
 * given as the client's urls are (HOST:PORT or http(s)://HOST:PORT). The client prefixes its own
 * scheme to it: an address with a scheme went out as "http://http://x". A scheme other than the
 * client's is refused (INVALID_ARGUMENT), as the request would not go where it says; a HOST:PORT
 * (how /cluster names nodes) takes the client's. It was read as http, so an https client refused
 * every node it named that way: `distkv cluster` showed a TLS cluster's other nodes DOWN, and
 * `distkv backup` and `restore` failed (test/e2e/ops-tls-cli.test.ts).
 */
export function nodeAuthority(text: string, scheme: string): string {
  const origin = parseEndpoint(text);
  const u = new URL(origin);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text.trim()) && u.protocol !== `${scheme}:`)
    throw new DistkvError(
      'INVALID_ARGUMENT',
      `node "${text}" is ${u.protocol.slice(0, -1)}, but this client talks ${scheme} (its urls): give it as HOST:PORT or ${scheme}://HOST:PORT`,
    );
  return origin.slice(origin.indexOf('//') + 2);
}
