/**
 * Redirects to the node that owns a key (docs/api.md): 307 keeps the method and body, so GET,
 * PUT, DELETE and POST all follow it. A node only redirects to an address it does not host, so a
 * redirect loop would need two nodes to disagree about the config (their /cluster hashes differ):
 * every redirect carries the node's hash in `X-Distkv-Config`, so a client notices, and the version
 * of its live map in `X-Distkv-Map`, so a client routing with an older map reloads /cluster.
 * `Location` names the same key as the request, once a URL parser has read it (target-path.ts).
 */
import { MAP_HEADER } from '../routing/live-map.js';
import { SLOT_COUNT } from '../routing/slot.js';
import type { HttpResponse } from './http1-exchange.js';
import { portableTarget } from './target-path.js';

/** RedirectInfo describes where a key lives. */
export interface RedirectInfo {
  shard: number;
  slot: number;
  owner: string;
}

/** sendRedirect answers 307 with Location set to the owner and the same path and query (portableTarget). */
export function sendRedirect(
  res: HttpResponse,
  scheme: string,
  url: string,
  query: string,
  info: RedirectInfo,
  configHash: string,
  mapVersion: number,
): void {
  const location = `${scheme}://${info.owner}${portableTarget(url, query)}`;
  res
    .writeStatus('307 Temporary Redirect')
    .writeHeader('Location', location)
    .writeHeader('X-Distkv-Config', configHash)
    .writeHeader(MAP_HEADER, String(mapVersion))
    .writeHeader('Content-Type', 'application/json')
    .end(`${JSON.stringify({ redirect: { ...info, slots: SLOT_COUNT, location } })}\n`);
}
