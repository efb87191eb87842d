/**
 * Which failed requests were never sent: the connection errors that come before a request's first
 * byte is written (the connection was never made). Used by the client library (sender.ts) and by
 * a node forwarding to another (forwarder.ts callers): such a request was not executed, so a write
 * that failed so was not applied; any other failure (a connection closed or timed out after the
 * request was written) leaves it unknown.
 *
 * A node also fails on purpose, without sending them, the writes one client connection queued
 * behind a write to the same owner that got no answer (forwarder.ts, inOrder): `heldBack` makes
 * that error, and `neverSent` counts it too.
 */

/** HELD_BACK is the code of a write held back, never sent, behind one its owner did not answer (`heldBack`). */
const HELD_BACK = 'DISTKV_HELD_BACK';

/** NOT_SENT_CODES are the error codes of a connection that was never made, and of a write held back. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  HELD_BACK,
]);

/**
 * heldBack is the error of a write that was never sent because an earlier write of its connection to
 * the same owner got no answer (`before`, that write's error): sending it could have had it applied before
 * that one, which a stopped owner may still apply when it resumes.
 */
export function heldBack(before: unknown): Error {
  const why = before instanceof Error ? before.message : String(before);
  return Object.assign(
    new Error(
      `an earlier write on this connection got no answer from it (${why}), so this one was held back`,
      {
        cause: before,
      },
    ),
    { code: HELD_BACK },
  );
}

/** neverSent reports whether `err` (or its `cause`, as a DistkvError wraps one) says the request never reached the node. */
export function neverSent(err: unknown): boolean {
  for (const e of [err, (err as { cause?: unknown } | null)?.cause]) {
    const code = (e as { code?: unknown } | null | undefined)?.code;
    if (typeof code === 'string' && NOT_SENT_CODES.has(code)) return true;
  }
  return false;
}
