/**
 * How a client watch tells a lost node from a quiet prefix. A node writes a keep-alive on every
 * watch stream each KEEPALIVE_MS (src/watch/watch-binary-format.ts), so a stream that brings
 * nothing at all for STREAM_SILENCE_MS has lost its node: paused (SIGSTOP), frozen, its host dead
 * or a partition dropping its packets, none of which closes the connection (no FIN, no RST comes).
 * The watch then drops the stream, reports it down (onStream) and reconnects from its positions
 * at the shards' leader as the cluster names it then, as after a dropped connection. Before, such
 * a watch waited for ever, said nothing, and never followed a failover away from the lost node.
 *
 * The bound is the watch's undici body timeout (time between pieces of the body, not counted
 * while the watch stops reading for a slow consumer) and its head timeout (a node that takes the
 * connection and never answers: a paused one's kernel still accepts it).
 */

import { KEEPALIVE_MS } from '../watch/watch-binary-format.js';

/**
 * SILENCE_MARGIN_MS is what STREAM_SILENCE_MS allows beyond the keep-alive period: a node's timer
 * late under load, the client's own, and undici's coarse timers (about a second).
 */
const SILENCE_MARGIN_MS = 5000;

/** STREAM_SILENCE_MS is how long a watch stream may bring nothing before it is taken as lost. */
export const STREAM_SILENCE_MS = KEEPALIVE_MS + SILENCE_MARGIN_MS;

/** SILENCE_CODES are undici's codes for a head or body that did not come within its timeout. */
const SILENCE_CODES = new Set(['UND_ERR_BODY_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT']);

/**
 * silenceReason is the reason a notice gives for a stream dropped for its silence (`err`, undici's
 * timeout), or undefined when `err` is something else.
 */
export function silenceReason(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !SILENCE_CODES.has(code)) return undefined;
  const what = code === 'UND_ERR_HEADERS_TIMEOUT' ? 'did not answer the watch request' : 'sent nothing';
  return `the node ${what} for ${String(STREAM_SILENCE_MS / 1000)} s, not even its keep-alive (every ${String(KEEPALIVE_MS / 1000)} s): it is paused, frozen or unreachable (${code})`;
}
