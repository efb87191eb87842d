/**
 * The body of one HTTP/1.1 request as its bytes arrive (http1-connection.ts reads them): framed by
 * Content-Length or by the chunked coding (chunked-decoder.ts), handed to the route's `onData`
 * handler as views valid only during the call, the last call with `isLast`. What the handler
 * throws is answered as a throwing route is (`fail`). A chunked body also tells the route how
 * many bytes its chunks declared so far, so a body over the limit is refused before its data.
 * The reader counts what arrived, so a body cut short (its client ended its side) is refused
 * saying how much of it came (`describeCut`).
 */
import { ChunkedDecoder } from './chunked-decoder.js';
import type { HttpResponse } from './http1-exchange.js';

/** Fail answers a route (or its body handler) that threw. */
export type Fail = (res: HttpResponse, err: unknown) => void;

/** BodyStep is what one `feed` did: the input after the body's bytes, whether the body is whole, or its framing error. */
export interface BodyStep {
  rest: Buffer | undefined;
  done: boolean;
  error?: string;
}

/** deliverBody hands body bytes to the route's onData handler; what it throws goes to `fail`. */
export function deliverBody(res: HttpResponse, chunk: Buffer, isLast: boolean, fail: Fail): void {
  try {
    res.deliver(chunk, isLast);
  } catch (err) {
    fail(res, err);
  }
}

const EMPTY = Buffer.alloc(0);

/** BodyReader reads the body of `res`, whose head declared `contentLength` bytes or the chunked coding. */
export class BodyReader {
  /** res is the response of the request whose body this is. */
  readonly res: HttpResponse;
  /** received counts the body's bytes so far (a chunked body's data, without its framing). */
  private received = 0;
  private readonly length: number;
  private left: number;
  private readonly chunked: ChunkedDecoder | undefined;
  private readonly fail: Fail;

  constructor(res: HttpResponse, contentLength: number, chunked: boolean, fail: Fail) {
    this.res = res;
    this.length = contentLength;
    this.left = contentLength;
    this.chunked = chunked ? new ChunkedDecoder() : undefined;
    this.fail = fail;
  }

  /** feed takes the body's bytes from the start of `input` and hands them to the route. */
  feed(input: Buffer): BodyStep {
    const res = this.res;
    if (this.chunked !== undefined) {
      const r = this.chunked.feed(
        input,
        (data) => {
          this.received += data.length;
          deliverBody(res, data, false, this.fail);
        },
        (declared) => {
          this.declare(declared);
        },
      );
      const rest = input.subarray(r.consumed);
      if (r.error !== undefined) return { rest, done: false, error: `malformed chunked body: ${r.error}` };
      if (r.done) deliverBody(res, EMPTY, true, this.fail);
      return { rest, done: r.done };
    }
    const n = Math.min(this.left, input.length);
    this.left -= n;
    this.received += n;
    const whole = n === input.length;
    const done = this.left === 0;
    deliverBody(res, whole ? input : input.subarray(0, n), done, this.fail);
    return { rest: whole ? undefined : input.subarray(n), done };
  }

  /** describeCut says how much of the body arrived before its client ended its side, for the 400. */
  describeCut(): string {
    return this.chunked === undefined
      ? `request body ended early: the client closed its side after ${this.received} of the ${this.length} bytes its Content-Length declared`
      : `chunked request body ended early: the client closed its side after ${this.received} bytes of chunk data, before the last (zero-size) chunk`;
  }

  /** declare tells the route how many bytes a chunked body declared so far; a throw is answered as in deliverBody. */
  private declare(bytes: number): void {
    try {
      this.res.declare(bytes);
    } catch (err) {
      this.fail(this.res, err);
    }
  }
}
