/**
 * Reading request bodies with a size limit.
 *
 * The limit is checked against Content-Length before anything is buffered (413 at once, connection
 * closed so the client stops sending); for chunked bodies, against each chunk size as it is read
 * (a chunk that would go over is refused before its data arrives) and again while data arrives. Chunks
 * are views of the connection's input, valid only during the callback, so they are copied (into
 * one buffer of the declared length, when there is one) — except a body that arrives in one chunk,
 * which `onBody` receives as a view valid only during the call.
 */
import { DistkvError } from '../errors.js';
import type { HttpRequest, HttpResponse } from './http1-exchange.js';
import { sendError } from './respond.js';

/** contentLengthError returns the 413 to send when the declared Content-Length is over `limit`. */
export function contentLengthError(
  req: HttpRequest,
  limit: number,
  what: 'value' | 'body',
): DistkvError | undefined {
  const n = req.contentLength;
  return n > limit ? tooLarge(n, limit, what) : undefined;
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
  let chunks: Buffer[] | undefined;
  let total = 0;
  // Chunk sizes are declared only by a chunked body (no Content-Length).
  if (contentLength < 0)
    res.onDeclared((declared) => {
      if (declared > limit) sendError(res, tooLarge(declared, limit, what, true), { close: true });
    });
  // A body of a declared length that arrives in several chunks is copied into one buffer of that
  // length as they arrive: a copy of each chunk, then of them all joined, was two copies into
  // memory allocated for them (1 MiB: ~1-2.5 ms on the main thread, docs/performance.md, "Large PUTs").
  let joined: Buffer | undefined;
  res.onData((chunk, isLast) => {
    if (res.ended) return;
    const at = total;
    total += chunk.byteLength;
    if (total > limit) {
      sendError(res, tooLarge(total, limit, what), { close: true });
      return;
    }
    if (isLast && chunks === undefined && joined === undefined) {
      onBody(chunk);
      return;
    }
    if (chunks === undefined && contentLength >= total) {
      joined ??= Buffer.allocUnsafe(contentLength);
      joined.set(chunk, at);
      if (isLast) onBody(at + chunk.byteLength === contentLength ? joined : joined.subarray(0, total));
      return;
    }
    if (chunks === undefined) chunks = joined === undefined ? [] : [joined.subarray(0, at)];
    chunks.push(Buffer.from(chunk));
    if (isLast) onBody(Buffer.concat(chunks, total));
  });
}
