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

/** untrustedPeerMessage explains a peer `peer` whose TLS handshake failed (`f`), and what to check. */
export function untrustedPeerMessage(peer: string, f: TlsFailure): string {
  return `node ${peer} answers, but the TLS handshake with it fails: ${tlsFailureText(f)}; it counts as unreachable until the handshake succeeds: ${tlsRemedy(f, `node ${peer}`)}`;
}
