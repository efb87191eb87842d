/**
 * The input side of one HTTP/1.1 connection (http1-connection.ts): the bytes read and not yet
 * parsed, framed into request heads (http1-head-reader.ts) and bodies (http1-body-reader.ts).
 *
 * What a request means is the owner's: the input asks it whether the next request may start
 * (`mayStart`, which pauses reading when not), hands it each head (`start`, which sets `body`
 * when the request has one), and tells it of a malformed head or body (`refuse`, `refuseBody`).
 * Parsing is not re-entered: a route that answers at once, and so lets a held request go on,
 * makes the owner call `parse` from inside `parse`, which is a no-op; the loop goes on instead.
 *
 * The input keeps the deadlines of what arrives: a head's (http1-head-reader.ts) and a body's
 * (http1-body-deadline.ts, armed once a parse ends with a body still incomplete, cleared once it
 * is whole or dropped); the owner decides what a deadline that passed means.
 *
 * Lifetime of the bytes: a `transient` read is overwritten by the listener's next read
 * (src/server/shared-read.ts), so what is left of it unparsed is kept as a copy.
 */
import { DistkvError } from '../errors.js';
import { BodyDeadline } from './http1-body-deadline.js';
import type { BodyReader } from './http1-body-reader.js';
import type { HttpResponse } from './http1-exchange.js';
import type { RequestHead } from './http1-head.js';
import { HeadReader, holdsHead } from './http1-head-reader.js';

/** InputOwner is what the input needs from its connection. */
export interface InputOwner {
  /** reading is false once the connection reads no more requests. */
  reading(): boolean;
  /** mayStart reports whether the next request may start now; when it may not, reading is paused. */
  mayStart(): boolean;
  /** start runs the request of `head` (and sets the input's `body` when it has one). */
  start(head: RequestHead): void;
  /** refuse answers a request that cannot be parsed, and closes the connection after it. */
  refuse(err: DistkvError): void;
  /** refuseBody answers a request whose body cannot be read (`err`) unless its route answered it already, and closes the connection after it. */
  refuseBody(res: HttpResponse, err: DistkvError): void;
  /** stopReading reads no more requests (it calls the input's `stop`). */
  stopReading(): void;
}

const EMPTY = Buffer.alloc(0);

/** Http1Input frames one connection's input into requests (see the design block). */
export class Http1Input {
  /** body is the body being read (of the last request read), if any. */
  body: BodyReader | undefined;
  /** heads finds the request heads and keeps the deadline of the one arriving. */
  readonly heads: HeadReader;
  /** bodies is the deadline of the body being read, running while it is incomplete. */
  readonly bodies: BodyDeadline;
  private bytes: Buffer | undefined;
  private parsing = false;
  private readonly owner: InputOwner;

  constructor(
    owner: InputOwner,
    headMs: number,
    onHeadTimeout: () => void,
    bodyMs: number,
    onBodyTimeout: () => void,
  ) {
    this.owner = owner;
    this.heads = new HeadReader(headMs, onHeadTimeout);
    this.bodies = new BodyDeadline(bodyMs, onBodyTimeout);
  }

  /** add takes the bytes of one read and parses what it can. */
  add(chunk: Buffer, transient: boolean): void {
    this.bytes =
      this.bytes === undefined || this.bytes.length === 0 ? chunk : Buffer.concat([this.bytes, chunk]);
    this.parse();
    const rest = this.bytes as Buffer | undefined; // parse may have consumed it
    if (transient && rest !== undefined && rest.buffer === chunk.buffer) this.bytes = Buffer.from(rest);
  }

  /**
   * parse starts the requests held while the owner lets them; it returns whether it stopped
   * because the next may not start yet (undefined when called from inside itself).
   */
  parse(): boolean | undefined {
    if (this.parsing) return undefined;
    this.parsing = true;
    let stalled = false;
    try {
      while (this.owner.reading() && this.bytes !== undefined && this.bytes.length > 0) {
        if (this.body !== undefined) {
          this.feedBody(this.body, this.bytes);
          continue;
        }
        stalled = !this.owner.mayStart();
        if (stalled || !this.readHead(this.bytes)) break;
      }
    } finally {
      this.parsing = false;
    }
    if (this.body !== undefined && this.owner.reading()) this.bodies.arm();
    return stalled;
  }

  /** waitsForHead reports whether a head has begun to arrive and is not whole yet. */
  waitsForHead(): boolean {
    const bytes = this.bytes;
    return this.body === undefined && bytes !== undefined && bytes.length > 0 && !holdsHead(bytes);
  }

  /** take returns the bytes not parsed (for an upgraded protocol) and keeps none. */
  take(): Buffer {
    const bytes = this.bytes ?? EMPTY;
    this.bytes = undefined;
    return bytes;
  }

  /** stop drops the bytes not parsed and the body being read; it returns that body's response. */
  stop(): HttpResponse | undefined {
    this.bytes = undefined;
    return this.dropBody();
  }

  /** dropBody stops reading the body being read; it returns its response. */
  dropBody(): HttpResponse | undefined {
    const res = this.body?.res;
    this.body = undefined;
    this.bodies.clear();
    return res;
  }

  /** readHead parses and starts one request head; false when it is not complete yet. */
  private readHead(input: Buffer): boolean {
    const r = this.heads.read(input);
    if ('partial' in r) this.bytes = r.partial;
    else if ('error' in r) this.owner.refuse(r.error);
    else {
      this.bytes = r.rest;
      this.owner.start(r.head);
      return true;
    }
    return false;
  }

  private feedBody(body: BodyReader, input: Buffer): void {
    const step = body.feed(input);
    this.bodies.received(input.length - (step.rest?.length ?? 0));
    // The route may have closed the connection (stopReading dropped the input).
    if (this.owner.reading()) this.bytes = step.rest;
    if (step.error !== undefined) {
      this.dropBody();
      this.owner.refuseBody(body.res, new DistkvError('BAD_REQUEST', step.error));
    } else if (step.done) {
      this.dropBody();
      if (body.res.closeAfter) this.owner.stopReading();
    }
  }
}
