/**
 * Which failed requests were never sent: the connection errors that come before a request's first
 * byte is written (the connection was never made). Used by the client library (sender.ts) and by
 * a node forwarding to another (forwarder.ts callers): such a request was not executed, so a write
 * that failed so was not applied; any other failure (a connection closed or timed out after the
 * request was written) leaves it unknown.
 */

/** NOT_SENT_CODES are the error codes of a connection that was never made. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

/** neverSent reports whether `err` (or its `cause`, as a DistkvError wraps one) says the request never reached the node. */
export function neverSent(err: unknown): boolean {
  for (const e of [err, (err as { cause?: unknown } | null)?.cause]) {
    const code = (e as { code?: unknown } | null | undefined)?.code;
    if (typeof code === 'string' && NOT_SENT_CODES.has(code)) return true;
  }
  return false;
}
