/**
 * The responses of one HTTP/1.1 connection in request order (RFC 9112 section 9.3.2: pipelining),
 * whichever completes first: the queue holds the responses of the requests read so far and not
 * yet fully written, oldest first. Only the head writes to the socket; a later response that
 * writes first keeps a copy of its bytes (`res.out`) until it reaches the head (`advance`).
 */
import type { HttpResponse } from './http1-exchange.js';

/** ResponseQueue orders one connection's responses; `write` sends bytes of the head. */
export class ResponseQueue {
  private readonly items: HttpResponse[] = [];
  private readonly write: (data: string | Uint8Array) => void;

  constructor(write: (data: string | Uint8Array) => void) {
    this.write = write;
  }

  /** length is the number of responses not yet fully written. */
  get length(): number {
    return this.items.length;
  }

  /** head is the oldest response not yet fully written: the one that writes. */
  get head(): HttpResponse | undefined {
    return this.items[0];
  }

  /** pending lists the responses held, oldest first. */
  get pending(): readonly HttpResponse[] {
    return this.items;
  }

  push(res: HttpResponse): void {
    this.items.push(res);
  }

  /** send writes `data` of `res` now when `res` is the head, else keeps a copy (`data` may be a caller's view). */
  send(res: HttpResponse, data: string | Uint8Array): void {
    if (this.items[0] === res) this.write(data);
    else (res.out ??= []).push(typeof data === 'string' ? data : Buffer.from(data));
  }

  /**
   * advance drops ended and aborted responses from the head, writes what the next one kept, and
   * tells `onHead` of each new head still writing. It stops at a response that ended closing the
   * connection and returns it (the rest will never be written).
   */
  advance(onHead: (res: HttpResponse) => void): HttpResponse | undefined {
    const q = this.items;
    while (q.length > 0 && (q[0]!.ended || q[0]!.aborted)) {
      const done = q.shift()!;
      if (done.closeAfter && done.ended) return done;
      const next = q[0];
      if (next === undefined) break;
      const out = next.out;
      next.out = undefined;
      if (out !== undefined) for (const data of out) this.write(data);
      if (!next.ended) onHead(next);
    }
    return undefined;
  }

  /** takeAll empties the queue and returns what it held. */
  takeAll(): HttpResponse[] {
    return this.items.splice(0);
  }
}
