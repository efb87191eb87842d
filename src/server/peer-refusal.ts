/**
 * PeerRefusal: when and how the peer check (peer-check.ts) logs a peer's answer it refuses (a live
 * map it does not adopt, a `/cluster` answer it does not read): the first time, when the reason
 * changes, and once a minute while it holds, each line saying what to do. So is a peer whose TLS
 * handshake fails (src/util/tls-failure.ts).
 */
import { type TlsFailure, tlsFailureText, tlsRemedy } from '../util/tls-failure.js';

/** REFUSAL_REPEAT_MS is how often a peer's map refused for the same reason is logged again. */
export const REFUSAL_REPEAT_MS = 60_000;

/**
 * refusalDue tells whether a peer's map refused with `text` at `now` is to be logged, after `last`:
 * the first time, when the reason changes, and once a minute while it holds. Before, every peer
 * check logged it (every 2 s per peer), a line that said nothing of what to do.
 */
export function refusalDue(
  last: { text: string; at: number } | undefined,
  text: string,
  now: number,
): boolean {
  return last === undefined || last.text !== text || now - last.at >= REFUSAL_REPEAT_MS;
}

/** refusedMapMessage explains a live map of `peer` that this node refuses (`reason`), and what to do. */
export function refusedMapMessage(peer: string, reason: string): string {
  return `refused the live map of ${peer}: ${reason}. This node keeps its own map and asks again at every check; the two maps were made apart (a config that removed a shard's leader, a live-map.json edited, replaced or restored). Find which node's map is right (GET /cluster on each; docs/failover.md, "How a map spreads"): on a node whose map is wrong, stopped, move its live-map.json aside and run \`distkv map fetch --from RIGHT_NODE\`, then start it`;
}

/**
 * openPeerMessage explains why the live map of `peer`, a node that runs without `server.token`, is
 * not adopted by this node, which runs with one: anyone who reaches `peer` can give it a map
 * (`POST /_admin/map` needs no token there), and its peers adopted it from its `/cluster`: one
 * unauthenticated request moved a shard's leader to a replica behind it, the acknowledged writes
 * it lacked went to divergence files.
 */
export function openPeerMessage(peer: string): string {
  return `node ${peer} runs without server.token, this node with one: its live map is not adopted here (anyone who reaches it can change its map: POST /_admin/map needs no token there), and it cannot pull from this node (401). Give every node of the cluster the same server.token`;
}

/** tokenlessHereMessage explains to a node without `server.token` that its peer `peer` requires one. */
export function tokenlessHereMessage(peer: string): string {
  return `this node runs without server.token, node ${peer} with one: its replicas here cannot pull from it (401), and it adopts no live map from this node. Give every node of the cluster the same server.token`;
}

/** untrustedPeerMessage explains a peer `peer` whose TLS handshake failed (`f`), and what to check. */
export function untrustedPeerMessage(peer: string, f: TlsFailure): string {
  return `node ${peer} answers, but the TLS handshake with it fails: ${tlsFailureText(f)}; it counts as unreachable until the handshake succeeds: ${tlsRemedy(f, `node ${peer}`)}`;
}
