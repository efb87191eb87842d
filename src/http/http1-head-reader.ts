/**
 * Finding the request heads in an HTTP/1.1 connection's input (http1-connection.ts reads it), and
 * the deadline of a head still arriving.
 *
 * A head ends at its blank line; empty lines before a request line are skipped (RFC 9112 section
 * 2.2). Before it is whole, a request line longer than MAX_URL_BYTES is refused as 414, a head
 * longer than MAX_HEAD_BYTES as 431, and a request line ended by a bare LF as 400 (its head would
 * never end; RFC 9112 section 2.2 lets a server refuse it), a method longer than any distkv
 * implements as 501 from its first bytes (not buffered whole); http1-head.ts parses a head once
 * whole. A head has `ms` (default HEAD_TIMEOUT_MS) from its first byte (not the empty lines before
 * it) to its blank line: the reader arms the deadline when it finds a head incomplete and clears it
 * when the head is whole; at the deadline it calls `onTimeout`, and the connection decides (408,
 * or `arm` again while it is not reading: then the wait is not the client's).
 */
import { DistkvError } from '../errors.js';
import {
  type HeadError,
  isHeadError,
  longMethod,
  MAX_HEAD_BYTES,
  MAX_URL_BYTES,
  METHOD_TOO_LONG,
  parseHead,
  type RequestHead,
} from './http1-head.js';

/** HEAD_TIMEOUT_MS is the default time a request head may take to arrive whole. */
export const HEAD_TIMEOUT_MS = 10000;
const HEAD_END = Buffer.from('\r\n\r\n');

/**
 * HeadRead is what `read` found: a head and the input after it (undefined when none), a head
 * refused, or an incomplete head (the input to keep).
 */
export type HeadRead =
  { head: RequestHead; rest: Buffer | undefined } | { error: DistkvError } | { partial: Buffer };

/** HEAD_ERROR_CODES are the catalogue codes of a refused head's statuses. */
const HEAD_ERROR_CODES = {
  400: 'BAD_REQUEST',
  414: 'URL_TOO_LONG',
  417: 'EXPECTATION_FAILED',
  431: 'HEAD_TOO_LARGE',
  501: 'NOT_IMPLEMENTED',
} as const satisfies Record<HeadError['status'], string>;

/** holdsHead reports whether `input` holds a whole head. */
export function holdsHead(input: Buffer): boolean {
  return input.indexOf(HEAD_END) >= 0;
}

/** HeadReader reads one connection's request heads and keeps the deadline of the one arriving. */
export class HeadReader {
  /** ms is the time a head may take from its first byte. */
  readonly ms: number;
  private readonly onTimeout: () => void;
  private timer: NodeJS.Timeout | undefined;
  private readonly fire = (): void => {
    this.timer = undefined;
    this.onTimeout();
  };

  constructor(ms: number, onTimeout: () => void) {
    this.ms = ms;
    this.onTimeout = onTimeout;
  }

  /** read parses the head at the start of `input` (see HeadRead). */
  read(input: Buffer): HeadRead {
    let start = 0;
    while (start + 1 < input.length && input[start] === 13 && input[start + 1] === 10) start += 2;
    const end = input.indexOf(HEAD_END, start);
    if (end < 0) {
      if (longMethod(input, start)) return { error: new DistkvError('NOT_IMPLEMENTED', METHOD_TOO_LONG) };
      const lineEnd = input.indexOf(10, start);
      if ((lineEnd < 0 ? input.length : lineEnd) - start > MAX_URL_BYTES + 16)
        return { error: new DistkvError('URL_TOO_LONG', `request target is over ${MAX_URL_BYTES} bytes`) };
      // A line ended by a bare LF (`printf 'GET / HTTP/1.1\nHost: x\n\n'`, or only the header
      // lines so) starts a head whose blank line, searched as CRLF CRLF, may never come: refused
      // now, not 408 at the deadline.
      const bare = bareLfAt(input, start);
      if (bare >= 0)
        return {
          error: new DistkvError(
            'BAD_REQUEST',
            `${bare === lineEnd ? 'the request line' : 'a header line'} ends with a bare LF: HTTP/1.1 ends each line of a head with CR LF`,
          ),
        };
      if (input.length - start > MAX_HEAD_BYTES) return { error: headTooLarge() };
      if (input.length > start) this.arm();
      return { partial: start === 0 ? input : input.subarray(start) };
    }
    this.clear();
    if (end - start > MAX_HEAD_BYTES) return { error: headTooLarge() };
    const head = parseHead(input.toString('latin1', start, end));
    if (isHeadError(head)) return { error: new DistkvError(HEAD_ERROR_CODES[head.status], head.message) };
    // The usual request arrives alone: no view of an empty rest.
    return { head, rest: end + 4 === input.length ? undefined : input.subarray(end + 4) };
  }

  /** arm starts the deadline unless it runs already. */
  arm(): void {
    this.timer ??= setTimeout(this.fire, this.ms);
  }

  /** clear stops the deadline. */
  clear(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** bareLfAt is the first LF of `input` from `start` that no CR precedes, or -1 (an incomplete head: at most MAX_HEAD_BYTES). */
function bareLfAt(input: Buffer, start: number): number {
  for (let lf = input.indexOf(10, start); lf >= 0; lf = input.indexOf(10, lf + 1))
    if (lf === start || input[lf - 1] !== 13) return lf;
  return -1;
}

function headTooLarge(): DistkvError {
  return new DistkvError('HEAD_TOO_LARGE', `request head is over ${MAX_HEAD_BYTES} bytes`);
}
