/**
 * A request's target written again for another node: the path and query of a `--proxy` relay
 * (proxy.ts, forwarder.ts) and of a 307's `Location` (redirect.ts). What goes out must name the
 * same key at the owner as the request named here, also once a URL parser has read it.
 *
 * http1-head.ts keeps the target as sent, except raw bytes over 0x7F, decoded as UTF-8; a route
 * decodes its key from what follows `/kv/` (request-parse.ts), so `\`, `.` and `/` are key bytes
 * like any other. A URL parser (WHATWG's, as fetch and undici use; Go's resolving a `Location`)
 * would rewrite them: in an http(s) path it turns `\` into `/` and removes dot segments (`.` and
 * `..`, also spelt `%2e`), so `/kv/a\b` reached the owner as the key `a/b`, and `/kv/x/../y` as
 * `y`: another key written or read, answered as if it were the one asked for. So:
 *  - characters outside printable ASCII are percent-encoded as UTF-8 (RFC 3986 has no raw ones;
 *    the head parser lets none below 0x21 through, and decoded bytes over 0x7F as UTF-8);
 *  - in a key, `\` is sent as %5C, and when a segment of the key is a dot segment, its `/` as %2F
 *    and its `.` as %2E, so no segment is one any more. Only a key that is `.` or `..` whole
 *    stays a dot segment to a WHATWG parser (Go's keeps %2E); the owner still gets it verbatim
 *    from a relay, which sends the path as is (forwarder.ts).
 * Each decodes to the same key at the owner: a key's `%XX` are its bytes.
 */

/** KV_KEY_PREFIX is where the key starts in a `/kv/{key}` path. */
const KV_KEY_PREFIX = '/kv/';

const NON_ASCII = /[^ -~]+/gu;
const DOT_SEGMENT = /(?:^|\/)(?:\.|%2e){1,2}(?:\/|$)/i;

/** asciiOnly percent-encodes, as UTF-8, every character of `text` outside printable ASCII. */
function asciiOnly(text: string): string {
  return text.replace(NON_ASCII, encodeURIComponent);
}

/** portableKey writes the key part of a `/kv/{key}` path so that no URL parser rewrites it (see the design block). */
function portableKey(key: string): string {
  let out = asciiOnly(key).replaceAll('\\', '%5C');
  if (DOT_SEGMENT.test(out)) out = out.replaceAll('/', '%2F').replaceAll('.', '%2E');
  return out;
}

/**
 * portableTarget returns `path` and `query` (without its `?`; "" for none) as a target to send
 * another node or to put in a `Location`: the same key at the owner (see the design block).
 */
export function portableTarget(path: string, query: string): string {
  const p = path.startsWith(KV_KEY_PREFIX)
    ? KV_KEY_PREFIX + portableKey(path.slice(KV_KEY_PREFIX.length))
    : asciiOnly(path);
  return query === '' ? p : `${p}?${asciiOnly(query)}`;
}
