/**
 * One request/response exchange of the HTTP/1.1 front door: `HttpRequest` (what the route reads,
 * synchronously or later: it is a plain object, not a view) and `HttpResponse` (what the route
 * writes, now or after an await). Their methods are the subset of uWebSockets.js's that the
 * routes used (writeStatus, writeHeader, end, onData, onAborted, ...), so route code reads the same;
 * there is no `cork`: the connection coalesces the writes of one event-loop turn itself.
 *
 * Ordering: a response does not write to the socket itself. It hands its bytes to its connection,
 * which sends them at once when every earlier response on the connection is complete and buffers
 * them otherwise (http1-connection.ts). So a route may answer whenever its work completes.
 *
 * Lifetime: `aborted` becomes true when the connection dies before the response ended; writes after
 * that are ignored. `ended` becomes true at `end()`. Each is final.
 */
import type { Socket } from 'node:net';
import type { Route } from './http-metrics.js';
import type { RequestHead } from './http1-head.js';
import type { UnsentAccount } from '../server/unsent-budget.js';

/** ExchangeSink is what a response needs from its connection (implemented by Http1Connection). */
export interface ExchangeSink {
  /** send writes (or buffers, when earlier responses are pending) bytes of `res`. */
  send(res: HttpResponse, data: string | Uint8Array): void;
  /** ended tells the connection that `res` has written its last byte. */
  ended(res: HttpResponse): void;
  /** needsDrain reports whether `res` should stop streaming until its writable handler runs. */
  needsDrain(res: HttpResponse): boolean;
  /** destroy closes the connection at once. */
  destroy(): void;
  /** dateLine is the current `Date: ...\r\n` header line. */
  dateLine(): string;
  /** detach hands the socket over (a protocol upgrade), or returns undefined when `res` cannot have it. */
  detach(res: HttpResponse): Detached | undefined;
  /** awaitsBody reports whether the body of `res`'s request is still to be read. */
  awaitsBody(res: HttpResponse): boolean;
  /** peer names the client's end of the connection, `address:port` (for logs). */
  peer?(): string;
}

/**
 * Detached is a socket taken over by an upgrade, with the bytes already read after the request
 * head and the connection's account in the unsent budget, which the upgraded protocol reports its
 * socket's backlog to (src/server/unsent-budget.ts).
 */
export interface Detached {
  socket: Socket;
  head: Buffer;
  account: UnsentAccount | undefined;
}

// Bodies up to this size are copied behind their head into one buffer (see end()).
const COALESCE_MAX_BYTES = 16 * 1024;

const NO_VALUES: readonly string[] = Object.freeze([]);

/** isAscii reports whether every character of `s` is below 0x80 (so its UTF-8 is its latin1). */
function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/**
 * frameChunk writes `pieces` once, as one chunk of the chunked transfer coding (size line, data,
 * CRLF), and returns it with its data as a view: a buffer written to many responses is framed once
 * (see HttpResponse.writeFramed, which never sends the frame of no bytes: that one ends a body).
 */
export function frameChunk(pieces: readonly Uint8Array[]): { framed: Buffer; data: Buffer } {
  let length = 0;
  for (const p of pieces) length += p.byteLength;
  const head = `${length.toString(16)}\r\n`;
  const framed = Buffer.allocUnsafe(head.length + length + 2);
  let at = framed.write(head, 0, 'latin1');
  for (const p of pieces) {
    framed.set(p, at);
    at += p.byteLength;
  }
  framed.write('\r\n', at, 'latin1');
  return { framed, data: framed.subarray(head.length, at) };
}

/** HttpRequest is a parsed request head. Header names are looked up in lower case. */
export class HttpRequest {
  private readonly head: RequestHead;

  constructor(head: RequestHead) {
    this.head = head;
  }

  /** getMethod returns the method as sent (upper case for every standard method). */
  getMethod(): string {
    return this.head.method;
  }

  /** getUrl returns the path, still percent-encoded, without the query. */
  getUrl(): string {
    return this.head.path;
  }

  /** getQuery returns the raw query string ("" when there is none). */
  getQuery(): string {
    return this.head.query;
  }

  /** contentLength is the body's declared length (-1 when chunked or absent). */
  get contentLength(): number {
    return this.head.contentLength;
  }

  /** hasBody reports whether the request has a body (a Content-Length over 0, or chunked). */
  get hasBody(): boolean {
    return this.head.chunked || this.head.contentLength > 0;
  }

  /** getHeader returns the first value of header `lowerName` ("" when absent). */
  getHeader(lowerName: string): string {
    const i = this.head.names.indexOf(lowerName);
    return i < 0 ? '' : this.head.values[i]!;
  }

  /** getHeaders returns every value of header `lowerName`, in order (empty when absent: a shared array). */
  getHeaders(lowerName: string): readonly string[] {
    const names = this.head.names;
    let i = names.indexOf(lowerName);
    if (i < 0) return NO_VALUES;
    const out: string[] = [];
    for (; i < names.length; i++) if (names[i] === lowerName) out.push(this.head.values[i]!);
    return out;
  }
}

type DataHandler = (chunk: Buffer, isLast: boolean) => void;

/** HttpResponse builds one response and hands it to its connection in order. */
export class HttpResponse {
  /** start is performance.now() when the request head was parsed (for latency metrics). */
  readonly start = performance.now();
  /** route is the metrics label of the handler that took the request ('other' until one does). */
  route: Route = 'other';
  /** status is the response's status code (200 unless writeStatus said otherwise). */
  status = 200;
  /** code is the catalogue error code of an error answer ('' otherwise), the metrics' `code` label. */
  code = '';
  /** method is the request's method as sent ('' for a request that could not be parsed). */
  readonly method: string;
  aborted = false;
  ended = false;
  /** closeAfter: the connection is closed once this response is written. */
  closeAfter: boolean;
  /** expectContinue: the client waits for `100 Continue` before sending the body. */
  expectContinue = false;
  /** error is the cause of a 5xx answer, kept for the log line (respond.ts sets it). */
  error: unknown;
  /** pendingWrite marks a write dispatched and not yet settled (owned by the connection). */
  pendingWrite = false;
  /** out holds bytes written while earlier responses were pending (owned by the connection). */
  out: (string | Uint8Array)[] | undefined;
  /** bytes counts what the response wrote (string lengths as characters; owned by the connection). */
  bytes = 0;

  private readonly sink: ExchangeSink;
  private readonly isHead: boolean;
  private readonly http10: boolean;
  private statusLine = '200 OK';
  private headers = '';
  // The head is ASCII unless a status or header value says otherwise (a Location may be UTF-8):
  // an ASCII head's byte length is its length, and it is copied into the output as latin1.
  private asciiHead = true;
  private streaming = false;
  private onDataHandler: DataHandler | undefined;
  private onDeclaredHandler: ((bytes: number) => void) | undefined;
  private onAbortedHandler: (() => void) | undefined;
  private onWritableHandler: (() => boolean) | undefined;
  private onPeerEndedHandler: (() => void) | undefined;
  // the client ended its side of the connection (FIN): it sends nothing more, and may be gone
  private peerHasEnded = false;

  constructor(sink: ExchangeSink, method: string, keepAlive: boolean, http10: boolean) {
    this.sink = sink;
    this.method = method;
    this.isHead = method === 'HEAD';
    this.closeAfter = !keepAlive;
    this.http10 = http10;
  }

  /** streamed tells whether the response's head went out for a streamed body (write() was called). */
  get streamed(): boolean {
    return this.streaming;
  }

  /**
   * connection is the connection this exchange came on, as an identity only: what a route keeps
   * per connection is keyed by it (the order of forwarded writes, forwarder.ts).
   */
  get connection(): object {
    return this.sink;
  }

  /** peer names the client's end of the connection, `address:port` ('' when unknown): for logs. */
  get peer(): string {
    return this.sink.peer?.() ?? '';
  }

  /** writeStatus sets the status line text, e.g. "404 Not Found". */
  writeStatus(status: string): this {
    this.statusLine = status;
    this.status = parseInt(status, 10);
    if (this.asciiHead) this.asciiHead = isAscii(status);
    return this;
  }

  /** writeHeader adds a header field. */
  writeHeader(name: string, value: string): this {
    this.headers += `${name}: ${value}\r\n`;
    if (this.asciiHead) this.asciiHead = isAscii(name) && isAscii(value);
    return this;
  }

  /** onAborted registers what to do if the connection dies before this response ends. */
  onAborted(handler: () => void): this {
    this.onAbortedHandler = handler;
    return this;
  }

  /**
   * onPeerEnded registers what to call when the client ends its side of the connection (at once
   * when it already did). TCP does not tell a half-close (the client still reads) from a full
   * close: only a write answered by a reset, and the write after it failing, does.
   */
  onPeerEnded(handler: () => void): this {
    this.onPeerEndedHandler = handler;
    if (this.peerHasEnded) handler();
    return this;
  }

  /** onData registers the body reader: chunks are views valid only during the call; the last has isLast. */
  onData(handler: DataHandler): this {
    this.onDataHandler = handler;
    return this;
  }

  /**
   * onDeclared registers what to call when a chunked body's size lines have declared `bytes` so
   * far, before that data arrives (a reader with a limit refuses at once, as from Content-Length).
   */
  onDeclared(handler: (bytes: number) => void): this {
    this.onDeclaredHandler = handler;
    return this;
  }

  /** onWritable registers what to call when a streaming response may write again. */
  onWritable(handler: () => boolean): this {
    this.onWritableHandler = handler;
    return this;
  }

  /** end writes the response with `body` (Content-Length framed); `closeConnection` closes after it. */
  end(body?: string | Uint8Array, closeConnection = false): this {
    if (this.ended || this.aborted) return this;
    if (closeConnection) this.closeAfter = true;
    const length =
      body === undefined ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
    if (this.streaming) {
      if (length > 0) this.chunk(body!, length);
      if (!this.http10 && !this.isHead) this.sink.send(this, '0\r\n\r\n');
    } else {
      const bodiless = this.status === 204 || this.status === 304;
      const head = this.headText(bodiless ? '' : `Content-Length: ${length}\r\n`);
      if (this.isHead || length === 0 || bodiless) this.sink.send(this, head);
      else if (typeof body === 'string') this.sink.send(this, head + body);
      else if (length <= COALESCE_MAX_BYTES) {
        // One buffer, one write: cheaper than a writev of head and body for small values.
        const ascii = this.asciiHead;
        const headBytes = ascii ? head.length : Buffer.byteLength(head);
        const out = Buffer.allocUnsafe(headBytes + length);
        out.write(head, 0, ascii ? 'latin1' : 'utf8');
        out.set(body!, headBytes);
        this.sink.send(this, out);
      } else {
        this.sink.send(this, head);
        this.sink.send(this, body!);
      }
    }
    this.finish();
    return this;
  }

  /** endWithoutBody ends a response that has no body and no Content-Length (204, 304). */
  endWithoutBody(): this {
    if (this.ended || this.aborted) return this;
    this.sink.send(this, this.headText(''));
    this.finish();
    return this;
  }

  /**
   * endNoContent ends a 204 with `headerLines` (each `Name: value\r\n`, ASCII) built by the caller
   * in one string: the reply to every single-key write, without a writeStatus and a writeHeader
   * per field (docs/performance.md, "Main-thread CPU per write").
   */
  endNoContent(headerLines: string): this {
    if (this.ended || this.aborted) return this;
    this.status = 204;
    this.statusLine = '204 No Content';
    this.headers += headerLines;
    this.sink.send(this, this.headText(''));
    this.finish();
    return this;
  }

  /**
   * endAscii ends the response with `headerLines` (each `Name: value\r\n`, ASCII) built by the
   * caller in one string, and `body`: a single-key read's answer without a writeHeader (and its
   * ASCII check) per field.
   */
  endAscii(headerLines: string, body: Uint8Array): this {
    this.headers += headerLines;
    return this.end(body);
  }

  /**
   * write streams a piece of the body (chunked transfer coding; HTTP/1.0: unframed, then close).
   * It returns false when the caller should wait for its onWritable handler.
   */
  write(data: Uint8Array): boolean {
    if (this.ended || this.aborted) return false;
    if (!this.streaming) {
      this.streaming = true;
      if (this.http10) this.closeAfter = true;
      this.sink.send(this, this.headText(this.http10 ? '' : 'Transfer-Encoding: chunked\r\n'));
    }
    if (data.byteLength > 0 && !this.isHead) this.chunk(data, data.byteLength);
    return !this.sink.needsDrain(this);
  }

  /**
   * writeFramed streams `data` as write() does, given also as `framed` (frameChunk(data)): a
   * chunked response sends `framed` as it is, one piece (a buffer shared by many responses is
   * framed once, not per response). Empty data writes nothing (its frame would end the body).
   */
  writeFramed(data: Uint8Array, framed: Uint8Array): boolean {
    if (!this.streaming || this.http10 || this.isHead) return this.write(data);
    if (this.ended || this.aborted) return false;
    if (data.byteLength > 0) this.sink.send(this, framed);
    return !this.sink.needsDrain(this);
  }

  /**
   * upgrade writes `head` (a complete `101 Switching Protocols` head) and hands the socket over
   * (WebSocket): only for a request with no body and no response pending before it on its
   * connection. Returns undefined, having written nothing, when it cannot.
   */
  upgrade(head: string): Detached | undefined {
    if (this.ended || this.aborted) return undefined;
    this.status = 101;
    const taken = this.sink.detach(this);
    if (taken === undefined) {
      this.status = 200;
      return undefined;
    }
    this.ended = true;
    taken.socket.write(head);
    return taken;
  }

  /** close destroys the connection (for a stream that cannot be finished). */
  close(): void {
    this.sink.destroy();
  }

  /** deliver hands a body chunk to the onData handler (called by the connection). */
  deliver(chunk: Buffer, isLast: boolean): void {
    if (this.aborted || this.ended) return;
    this.onDataHandler?.(chunk, isLast);
  }

  /** declare reports the bytes a chunked body declared so far (called by the connection). */
  declare(bytes: number): void {
    if (this.aborted || this.ended) return;
    this.onDeclaredHandler?.(bytes);
  }

  /** abort marks the response abandoned (the connection died or the body never came) and tells the route. */
  abort(): void {
    if (this.aborted || this.ended) return;
    this.aborted = true;
    this.onAbortedHandler?.();
  }

  /** peerEnded tells the response that its client ended its side (called by the connection). */
  peerEnded(): void {
    if (this.peerHasEnded || this.aborted || this.ended) return;
    this.peerHasEnded = true;
    this.onPeerEndedHandler?.();
  }

  /** writable tells a streaming response it may write again. */
  writable(): void {
    if (!this.ended && !this.aborted) this.onWritableHandler?.();
  }

  private chunk(data: string | Uint8Array, length: number): void {
    if (this.isHead) return;
    if (this.http10) this.sink.send(this, data);
    else {
      this.sink.send(this, `${length.toString(16)}\r\n`);
      this.sink.send(this, data);
      this.sink.send(this, '\r\n');
    }
  }

  private headText(framing: string): string {
    // A final answer before `100 Continue`: its client need not send the body it announced
    // (docs/api.md), so what it sends next could be its next request or that body, and nothing
    // tells which. The connection is closed after the answer (as Go's server does).
    if (this.expectContinue && this.sink.awaitsBody(this)) this.closeAfter = true;
    const connection = this.closeAfter
      ? 'Connection: close\r\n'
      : this.http10
        ? 'Connection: keep-alive\r\n'
        : '';
    return `HTTP/1.1 ${this.statusLine}\r\n${this.sink.dateLine()}${this.headers}${framing}${connection}\r\n`;
  }

  private finish(): void {
    this.ended = true;
    this.sink.ended(this);
  }
}
