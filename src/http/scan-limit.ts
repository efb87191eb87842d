/**
 * The bounds of a scan page's `limit` (docs/api.md, `GET /kv`): the node refuses a limit outside
 * 1..SCAN_MAX_LIMIT, and `distkv scan --limit` checks the same bounds before sending anything.
 */

/** SCAN_DEFAULT_LIMIT is a page's size when the request names no `limit`. */
export const SCAN_DEFAULT_LIMIT = 100;

/** SCAN_MAX_LIMIT is the largest `limit` a node takes. */
export const SCAN_MAX_LIMIT = 10000;
