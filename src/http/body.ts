/**
 * Reading request bodies from uWebSockets.js with a size limit.
 *
 * The limit is checked against Content-Length before anything is buffered (413 at once, connection
 * closed so the client stops sending), and again while chunks arrive, for chunked bodies. uWS hands
 * out each chunk as an ArrayBuffer that is only valid during the callback, so chunks are copied —
 * except a body that arrives in one chunk, which `onBody` receives as a view valid only during the call.
 */
import { DistkvError } from '../errors.js';
import { sendError } from './respond.js';
import type { HttpRequest, HttpResponse } from './uws.js';

/** Abortable is anything with an `aborted` flag set by res.onAborted. */
export interface Abortable {
  aborted: boolean;
}

/** contentLengthTooLarge checks Content-Length; it returns the error to send when over `limit`. */
export function contentLengthError(
  req: HttpRequest,
  limit: number,
  what: 'value' | 'body',
): DistkvError | undefined {
  const header = req.getHeader('content-length');
  if (header === '') return undefined;
  if (!/^\d+$/.test(header))
    return new DistkvError('BAD_REQUEST', `Content-Length "${header}" is not a number`);
  const n = Number(header);
  if (n <= limit) return undefined;
  return tooLarge(n, limit, what);
}

function tooLarge(n: number, limit: number, what: 'value' | 'body'): DistkvError {
  return what === 'value'
    ? new DistkvError('VALUE_TOO_LARGE', `value is ${n} bytes; limit is ${limit}`)
    : new DistkvError('BODY_TOO_LARGE', `request body is ${n} bytes; limit is ${limit}`);
}

/**
 * readBody collects the body and calls `onBody` once (with a view that is valid only during the
 * call), unless the request was aborted or the body exceeded `limit` (then 413 is sent and the
 * connection closed). `onTooLarge` is told when that happens. Call synchronously from the handler.
 */
export function readBody(
  res: HttpResponse,
  state: Abortable,
  limit: number,
  what: 'value' | 'body',
  onBody: (body: Uint8Array) => void,
  onTooLarge: () => void,
): void {
  let chunks: Buffer[] | undefined;
  let total = 0;
  let done = false;
  res.onData((chunk, isLast) => {
    if (done || state.aborted) return;
    total += chunk.byteLength;
    if (total > limit) {
      done = true;
      res.cork(() => {
        sendError(res, tooLarge(total, limit, what), { close: true });
      });
      onTooLarge();
      return;
    }
    if (isLast && chunks === undefined) {
      done = true;
      onBody(new Uint8Array(chunk));
      return;
    }
    (chunks ??= []).push(Buffer.from(new Uint8Array(chunk)));
    if (isLast) {
      done = true;
      onBody(Buffer.concat(chunks, total));
    }
  });
}
