/**
 * Reading request bodies with a size limit.
 *
 * The limit is checked against Content-Length before anything is buffered (413 at once, connection
 * closed so the client stops sending); for chunked bodies, against each chunk size as it is read
 * (a chunk that would go over is refused before its data arrives) and again while data arrives. Chunks
 * are views of the connection's input, valid only during the callback, so they are copied into
 * one buffer (of the declared length, when there is one; else grown by doubling) — except a body
 * that arrives in one chunk, which `onBody` receives as a view valid only during the call.
 *
 * Never a Buffer per chunk: a chunked body may come in chunks of one byte (`1\r\nx\r\n`, six bytes
 * of wire each), and a copy of each kept in a list cost the heap ~150 bytes per body byte: a 1 MiB
 * value so sent grew the node by ~160 MiB, a 16 MiB batch by gigabytes, and its collections
 * stalled every client of the node.
 */
import { DistkvError } from '../errors.js';
import type { HttpRequest, HttpResponse } from './http1-exchange.js';
import { CONTENT_LENGTH_CLAMP } from './http1-head.js';
import { sendError } from './respond.js';

// the first buffer a body of no declared length is gathered in
const MIN_GROWN_BYTES = 16 * 1024;

/** contentLengthError returns the 413 to send when the declared Content-Length is over `limit`. */
export function contentLengthError(
  req: HttpRequest,
  limit: number,
  what: 'value' | 'body',
): DistkvError | undefined {
  const n = req.contentLength;
  // A length too large to read exactly is known only to be at least the clamp (http1-head.ts).
  return n > limit ? tooLarge(n, limit, what, n >= CONTENT_LENGTH_CLAMP) : undefined;
}

function tooLarge(n: number, limit: number, what: 'value' | 'body', atLeast = false): DistkvError {
  const size = `${atLeast ? 'at least ' : ''}${n} bytes`;
  return what === 'value'
    ? new DistkvError('VALUE_TOO_LARGE', `value is ${size}; limit is ${limit}`)
    : new DistkvError('BODY_TOO_LARGE', `request body is ${size}; limit is ${limit}`);
}

/**
 * readBody refuses a Content-Length over `limit` at once, else collects the body and calls `onBody`
 * once (with a view that is valid only during the call). A chunked body whose chunk sizes add up
 * to more than `limit`, or that grows over it, is cut off with 413 and the connection closed; an aborted request never calls `onBody`.
 * Call synchronously from the handler.
 */
export function readBody(
  res: HttpResponse,
  req: HttpRequest,
  limit: number,
  what: 'value' | 'body',
  onBody: (body: Buffer) => void,
): void {
  const declared = contentLengthError(req, limit, what);
  if (declared !== undefined) {
    sendError(res, declared, { close: true });
    return;
  }
  collectBody(res, req.contentLength, limit, what, onBody);
}

/**
 * collectBody is readBody for a request whose Content-Length (-1: none) is not over `limit`: it
 * collects the body and calls `onBody` once, as readBody does (kv-fast.ts calls it with the head's
 * length, having no request object).
 */
export function collectBody(
  res: HttpResponse,
  contentLength: number,
  limit: number,
  what: 'value' | 'body',
  onBody: (body: Buffer) => void,
): void {
  let total = 0;
  // Chunk sizes are declared only by a chunked body (no Content-Length).
  if (contentLength < 0)
    res.onDeclared((declared) => {
      if (declared > limit) sendError(res, tooLarge(declared, limit, what, true), { close: true });
    });
  // A body that arrives in several chunks is copied into one buffer as they arrive: of its
  // declared length (a copy of each chunk, then of them all joined, was two copies: 1 MiB, ~1-2.5
  // ms on the main thread, docs/performance.md, "Large PUTs"), else grown by doubling up to the
  // limit, and handed over exact (a view of a larger buffer would keep its slack alive).
  let joined: Buffer | undefined;
  res.onData((chunk, isLast) => {
    if (res.ended) return;
    const at = total;
    total += chunk.byteLength;
    if (total > limit) {
      sendError(res, tooLarge(total, limit, what), { close: true });
      return;
    }
    if (isLast && joined === undefined) {
      onBody(chunk);
      return;
    }
    if (joined === undefined || total > joined.length) {
      const size =
        contentLength >= total
          ? contentLength
          : Math.min(limit, Math.max(total, 2 * (joined?.length ?? 0), MIN_GROWN_BYTES));
      const grown = Buffer.allocUnsafe(size);
      joined?.copy(grown, 0, 0, at);
      joined = grown;
    }
    joined.set(chunk, at);
    if (!isLast) return;
    if (total === joined.length) onBody(joined);
    else onBody(contentLength >= 0 ? joined.subarray(0, total) : Buffer.from(joined.subarray(0, total)));
  });
}
