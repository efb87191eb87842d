/**
 * One HTTP/1.1 connection of the front door: it parses requests as they arrive (one parser per
 * connection, heads scanned as latin1), hands each to the router at once, and writes the answers
 * back in request order whichever answers first (RFC 9112 section 9.3.2: pipelining).
 *
 * The queue: `queue` holds the responses of the requests read so far and not yet fully written,
 * oldest first. Only `queue[0]` writes to the socket; a later response that completes first keeps
 * its bytes in `res.out` until it reaches the head. What the head writes in one event-loop turn is
 * collected and written at the end of the turn: one write, or one writev for a batch of replies.
 *
 * Bounds: a request is executed (handed to its route) only while fewer than the connection's
 * window of requests are unanswered and at most MAX_UNSENT_BYTES wait in the socket; otherwise it
 * and what follows it wait unparsed, reading pauses, and both resume once the socket has drained
 * (every byte handed to the kernel) and the queue is down to half the window. The window
 * (src/server/reply-window.ts) is fitted to the answers' sizes: about WINDOW_BYTES of them, starting
 * at INITIAL_WINDOW, at most MAX_PENDING, and at most WINDOW_CAP_BYTES of answers of the largest
 * value. So a client that pipelines GETs of large values and reads nothing makes the connection
 * hold about MAX_UNSENT_BYTES plus one window of answers, whatever it sent. A request head is bounded by
 * http1-head.ts in size and by `headMs` (default HEAD_TIMEOUT_MS) in time, from its first byte to
 * its blank line (else 408 and the connection is closed: a client dripping a head a byte at a
 * time never lets the idle limit fire); a connection idle for `idleMs` (default IDLE_TIMEOUT_MS)
 * with nothing pending is closed, and one idle that long in the middle of a request body gets
 * 408 for it and is closed (the request is aborted: nothing of it was applied). Idleness is found
 * by the listener's sweep (src/server/idle-sweep.ts), up to one sweep period (2 s) late.
 *
 * Read-after-write: a worker holds a GET of a key whose write is still in flight on that store
 * until the write is durable (src/worker/store-reads.ts), but that covers neither a scan nor a write
 * this node forwards to another (`--proxy`, batches). So a read (a route not marked as writing,
 * router.ts) that arrives while writes of this connection are unanswered is held, and reading
 * pauses, until they are; writes behind writes go on at once.
 *
 * Closing: after a response that closes (HTTP/1.0, `Connection: close`, a refused request, drain),
 * no further request is read; once the queue is written the socket is ended, reading (and
 * discarding) until the peer closes or LINGER_MS pass, so a client still sending a refused body
 * gets the answer rather than a reset. A request whose body never completes (the peer ended or
 * died) is aborted: its route never saw the body, so nothing of it was applied. A peer that ends
 * its side gets the answers to every complete request it sent first.
 */
import type { Socket } from 'node:net';
import { DistkvError } from '../errors.js';
import { DirectWriter } from '../server/direct-write.js';
import { maxWindowFor, ReplyWindow } from '../server/reply-window.js';
import { ChunkedDecoder } from './chunked-decoder.js';
import { type Detached, type ExchangeSink, HttpRequest, HttpResponse } from './http1-exchange.js';
import { isHeadError, MAX_HEAD_BYTES, MAX_URL_BYTES, parseHead, type RequestHead } from './http1-head.js';
import { sendError } from './respond.js';
import type { RouteMatch } from './router.js';

/** Held is a read that waits for the writes before it on its connection. */
interface Held {
  res: HttpResponse;
  req: HttpRequest;
  match: RouteMatch;
  hasBody: boolean;
}

/** MAX_PENDING is the most pipelined requests that may await their answers before reading pauses. */
export const MAX_PENDING = 128;
/** MAX_UNSENT_BYTES is how many answer bytes may wait in the socket before requests stop being executed. */
export const MAX_UNSENT_BYTES = 4 * 1024 * 1024;
/** WINDOW_BYTES is about how many answer bytes the window lets be unanswered at once. */
const WINDOW_BYTES = 4 * 1024 * 1024;
/** INITIAL_WINDOW is a connection's window before any answer was sized. */
export const INITIAL_WINDOW = 4;
/** WINDOW_CAP_BYTES bounds the window times the largest answer (a burst of large values after small ones). */
export const WINDOW_CAP_BYTES = 64 * 1024 * 1024;
/** IDLE_TIMEOUT_MS is the default idle limit of a connection with nothing pending. */
export const IDLE_TIMEOUT_MS = 10000;
/** HEAD_TIMEOUT_MS is the default time a request head may take to arrive whole. */
export const HEAD_TIMEOUT_MS = 10000;
const LINGER_MS = 2000;
const HEAD_END = Buffer.from('\r\n\r\n');
const EMPTY = Buffer.alloc(0);

/** ConnectionHost is what a connection needs from its server. */
export interface ConnectionHost {
  /** find matches a request to its route. */
  find(req: HttpRequest): RouteMatch;
  /** handle runs a route; it may answer now or later. */
  handle(res: HttpResponse, req: HttpRequest, match: RouteMatch): void;
  /** started and finished bracket every request (finished with status 0 when aborted). */
  started(res: HttpResponse): void;
  finished(res: HttpResponse): void;
  /** fail answers 500 (logged) for a route that threw, or logs it when the response is already out. */
  fail(res: HttpResponse, err: unknown): void;
  /** dateLine is the current `Date: ...\r\n` header line. */
  dateLine(): string;
  /** forget drops a closed connection. */
  forget(conn: Http1Connection): void;
  /** flushLater calls `conn.flush()` at the end of this turn (once per call). */
  flushLater(conn: Http1Connection): void;
}

/** Http1Connection parses one socket's requests and writes their responses in order. */
export class Http1Connection implements ExchangeSink {
  private readonly socket: Socket;
  // writes the responses (src/server/direct-write.ts); its unsent bytes are the socket's backlog
  private readonly out: DirectWriter;
  private readonly host: ConnectionHost;
  private readonly queue: HttpResponse[] = [];
  private input: Buffer | undefined;
  // the request whose body is being read, and its framing
  private bodyOf: HttpResponse | undefined;
  private bodyLeft = 0;
  private chunked: ChunkedDecoder | undefined;
  // no more requests are read; the socket ends once the queue is written
  private closing = false;
  private shut = false;
  private parsing = false;
  private paused = false;
  // bytes to write at the end of this turn: the first piece, then any others (see flush)
  private outFirst: string | Uint8Array | undefined;
  private outRest: (string | Uint8Array)[] | undefined;
  private closed = false;
  // the socket was handed to an upgraded protocol (detach)
  private detached = false;
  // writes dispatched and not yet answered, and the read held back until they are
  private pendingWrites = 0;
  private held: Held | undefined;
  // set when the queue is being aborted: nothing more is run
  private dying = false;
  // the peer ended its side: nothing more will arrive
  private peerEnded = false;
  // the deadline of the head being received (armed at its first byte, cleared when it is whole)
  private readonly headMs: number;
  private headTimer: NodeJS.Timeout | undefined;
  // idleness (sweep): read or written since the last sweep, the unsent bytes then (a slow reader
  // still reading is not idle), and the sweeps since the connection was last touched
  private touched = true;
  private unsentAtSweep = 0;
  private idleSweeps = 0;
  private readonly idleMs: number;
  // how many requests may be executed and unanswered; fitted at each flush to the answers ended
  // since the last one (`endedBytes` counts what those answers sent)
  private readonly window: ReplyWindow;
  private endedReplies = 0;
  private endedBytes = 0;

  /** `maxReplyBytes` is the largest answer a route may send (the largest value plus its head). */
  constructor(
    socket: Socket,
    host: ConnectionHost,
    idleMs = IDLE_TIMEOUT_MS,
    headMs = HEAD_TIMEOUT_MS,
    maxReplyBytes = 0,
  ) {
    this.socket = socket;
    this.host = host;
    this.idleMs = idleMs;
    this.headMs = headMs;
    const maxWindow =
      maxReplyBytes > 0 ? maxWindowFor(WINDOW_CAP_BYTES, maxReplyBytes, 1, MAX_PENDING) : MAX_PENDING;
    this.window = new ReplyWindow(WINDOW_BYTES, 1, maxWindow, INITIAL_WINDOW);
    this.out = new DirectWriter(socket, () => {
      this.queue[0]?.writable();
      if (this.paused) this.resumeIfRoom();
    });
    socket.on('end', () => {
      this.onPeerEnd();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.onClose();
    });
  }

  /**
   * sweep is the listener's idle sweep (src/server/idle-sweep.ts): a connection untouched (nothing
   * read, nothing written, no progress of what waits unsent) for `sweepsToIdle` sweeps is closed
   * when nothing is pending, and gets 408 when it is in the middle of a request body.
   */
  sweep(sweepsToIdle: number): void {
    const unsent = this.out.unsent;
    if (this.touched || unsent !== this.unsentAtSweep) {
      this.touched = false;
      this.unsentAtSweep = unsent;
      this.idleSweeps = 0;
      return;
    }
    if (++this.idleSweeps < sweepsToIdle) return;
    if (this.queue.length === 0) this.socket.destroy();
    else this.bodyTimedOut(this.idleMs);
  }

  /** drain stops reading requests: the socket ends once the answers to the ones read are written. */
  drain(): void {
    this.stopReading();
    if (this.queue.length === 0) this.shutdown();
  }

  /** destroy closes the connection at once (pending responses are aborted). */
  destroy(): void {
    this.socket.destroy();
  }

  send(res: HttpResponse, data: string | Uint8Array): void {
    if (this.closed || this.shut) return;
    res.bytes += data.length;
    if (this.queue[0] !== res) {
      // Kept until the earlier responses are written: a copy, as `data` may be a caller's view.
      (res.out ??= []).push(typeof data === 'string' ? data : Buffer.from(data));
      return;
    }
    this.write(data);
  }

  ended(res: HttpResponse): void {
    this.endedReplies++;
    this.endedBytes += res.bytes;
    this.settled(res);
    if (res.closeAfter) this.stopReading();
    if (this.queue[0] === res) this.advance();
  }

  needsDrain(res: HttpResponse): boolean {
    return this.queue[0] !== res || this.out.needDrain;
  }

  dateLine(): string {
    return this.host.dateLine();
  }

  /** detach gives the socket to an upgraded protocol: `res` must be the only request pending, with no body. */
  detach(res: HttpResponse): Detached | undefined {
    if (this.queue.length !== 1 || this.queue[0] !== res || this.bodyOf !== undefined) return undefined;
    if (this.closed || this.shut || this.held !== undefined) return undefined;
    this.flush();
    this.queue.shift();
    const head = this.input ?? EMPTY;
    this.input = undefined;
    this.closing = true;
    this.shut = true;
    this.closed = true;
    this.detached = true;
    for (const event of ['data', 'end', 'drain', 'close']) this.socket.removeAllListeners(event);
    this.host.forget(this);
    res.ended = true;
    this.host.finished(res);
    return { socket: this.socket, head };
  }

  /**
   * read takes the bytes of one socket read (src/server/shared-read.ts): a `transient` chunk is
   * overwritten by the listener's next read, so what is left of it unparsed is kept as a copy (a
   * request's body reaches its route as views valid only during the call either way). After
   * `detach`, the bytes go to the upgraded protocol as the socket's `'data'` events.
   */
  read(chunk: Buffer, transient: boolean): void {
    if (this.detached) {
      this.socket.emit('data', transient ? Buffer.from(chunk) : chunk);
      return;
    }
    this.touched = true;
    if (this.closing) return;
    this.input =
      this.input === undefined || this.input.length === 0 ? chunk : Buffer.concat([this.input, chunk]);
    this.parse();
    const rest = this.input as Buffer | undefined; // parse may have consumed it
    if (transient && rest !== undefined && rest.buffer === chunk.buffer) this.input = Buffer.from(rest);
  }

  private parse(): void {
    if (this.parsing) return;
    this.parsing = true;
    let stalled = false;
    try {
      while (!this.closing && this.input !== undefined && this.input.length > 0) {
        if (this.bodyOf !== undefined) {
          this.readBody(this.input);
          continue;
        }
        stalled =
          this.held !== undefined ||
          this.queue.length >= this.window.size ||
          this.out.unsent > MAX_UNSENT_BYTES;
        if (stalled) {
          this.pause();
          break;
        }
        if (!this.readHead(this.input)) break;
      }
    } finally {
      this.parsing = false;
    }
    // The peer sends nothing more: once everything it sent is read, answer it, then close. A
    // request cut off mid-body can never complete; its route never got the body, so it is aborted
    // (stopReading) without effect.
    if (this.peerEnded && !stalled && !this.closing) {
      this.stopReading();
      if (this.queue.length === 0) this.shutdown();
    }
  }

  /** readHead parses and dispatches one request head; false when it is not complete yet. */
  private readHead(input: Buffer): boolean {
    let start = 0;
    // RFC 9112 section 2.2: ignore empty lines before a request line.
    while (start + 1 < input.length && input[start] === 13 && input[start + 1] === 10) start += 2;
    const end = input.indexOf(HEAD_END, start);
    if (end < 0) {
      const lineEnd = input.indexOf(10, start);
      if ((lineEnd < 0 ? input.length : lineEnd) - start > MAX_URL_BYTES + 16)
        this.refuse(new DistkvError('URL_TOO_LONG', `request target is over ${MAX_URL_BYTES} bytes`));
      else if (input.length - start > MAX_HEAD_BYTES)
        this.refuse(new DistkvError('HEAD_TOO_LARGE', `request head is over ${MAX_HEAD_BYTES} bytes`));
      else {
        this.input = start === 0 ? input : input.subarray(start);
        // Only a head's first byte starts its clock (not the empty lines allowed before it).
        if (input.length > start)
          this.headTimer ??= setTimeout(() => {
            this.headTimedOut();
          }, this.headMs);
      }
      return false;
    }
    this.clearHeadTimer();
    if (end - start > MAX_HEAD_BYTES) {
      this.refuse(new DistkvError('HEAD_TOO_LARGE', `request head is over ${MAX_HEAD_BYTES} bytes`));
      return false;
    }
    const head = parseHead(input.toString('latin1', start, end));
    // The usual request arrives alone: no view of an empty rest.
    this.input = end + 4 === input.length ? undefined : input.subarray(end + 4);
    if (isHeadError(head)) {
      const code =
        head.status === 414 ? 'URL_TOO_LONG' : head.status === 431 ? 'HEAD_TOO_LARGE' : 'BAD_REQUEST';
      this.refuse(new DistkvError(code, head.message));
      return false;
    }
    this.dispatch(head);
    return true;
  }

  private dispatch(head: RequestHead): void {
    const res = new HttpResponse(this, head.method, head.keepAlive, head.minor === 0);
    this.queue.push(res);
    this.host.started(res);
    const hasBody = head.chunked || head.contentLength > 0;
    if (hasBody) {
      this.bodyOf = res;
      this.bodyLeft = head.contentLength;
      this.chunked = head.chunked ? new ChunkedDecoder() : undefined;
      res.expectContinue = head.expectContinue;
    }
    const req = new HttpRequest(head);
    const match = this.host.find(req);
    if (!match.write && this.pendingWrites > 0) {
      // Read-after-write on one connection: the read runs once the writes before it are answered.
      this.held = { res, req, match, hasBody };
    } else this.run(res, req, match, hasBody);
    if (!head.keepAlive && !hasBody) this.stopReading();
  }

  private run(res: HttpResponse, req: HttpRequest, match: RouteMatch, hasBody: boolean): void {
    res.pendingWrite = match.write;
    if (match.write) this.pendingWrites++;
    this.host.handle(res, req, match);
    if (!hasBody) this.deliver(res, EMPTY, true);
    else if (res.expectContinue && !res.ended && this.queue[0] === res) this.sendContinue(res);
  }

  /** settled is called once per response that ended or was aborted. */
  private settled(res: HttpResponse): void {
    this.host.finished(res);
    if (!res.pendingWrite) return;
    res.pendingWrite = false;
    if (--this.pendingWrites > 0 || this.held === undefined) return;
    const h = this.held;
    this.held = undefined;
    if (!h.res.aborted && !this.dying) this.run(h.res, h.req, h.match, h.hasBody && this.bodyOf === h.res);
    if (this.paused) this.resume();
    else this.parse();
  }

  private readBody(input: Buffer): void {
    const res = this.bodyOf!;
    let done: boolean;
    if (this.chunked !== undefined) {
      const r = this.chunked.feed(
        input,
        (data) => {
          this.deliver(res, data, false);
        },
        (declared) => {
          this.declare(res, declared);
        },
      );
      this.input = input.subarray(r.consumed);
      if (r.error !== undefined) {
        this.bodyOf = undefined;
        this.abandon(res);
        this.refuse(new DistkvError('BAD_REQUEST', `malformed chunked body: ${r.error}`));
        return;
      }
      done = r.done;
      if (done) this.deliver(res, EMPTY, true);
    } else {
      const n = Math.min(this.bodyLeft, input.length);
      this.bodyLeft -= n;
      const whole = n === input.length;
      this.input = whole ? undefined : input.subarray(n);
      done = this.bodyLeft === 0;
      this.deliver(res, whole ? input : input.subarray(0, n), done);
    }
    if (done) {
      this.bodyOf = undefined;
      this.chunked = undefined;
      if (res.closeAfter) this.stopReading();
    }
  }

  /** deliver hands body bytes to the route's onData handler; what it throws is answered like a throwing route. */
  private deliver(res: HttpResponse, chunk: Buffer, isLast: boolean): void {
    try {
      res.deliver(chunk, isLast);
    } catch (err) {
      this.host.fail(res, err);
    }
  }

  /**
   * headTimedOut refuses a head still incomplete at its deadline. While reading is paused the
   * rest may be waiting unread in the socket: not the client's delay, so the deadline moves on.
   */
  private headTimedOut(): void {
    this.headTimer = undefined;
    const input = this.input;
    if (this.closing || this.bodyOf !== undefined || input === undefined || input.length === 0) return;
    if (input.indexOf(HEAD_END) >= 0) return;
    if (this.paused) {
      this.headTimer = setTimeout(() => {
        this.headTimedOut();
      }, this.headMs);
      return;
    }
    this.refuse(
      new DistkvError('REQUEST_TIMEOUT', `request head not received whole within ${this.headMs} ms`),
    );
  }

  private clearHeadTimer(): void {
    if (this.headTimer === undefined) return;
    clearTimeout(this.headTimer);
    this.headTimer = undefined;
  }

  /**
   * bodyTimedOut refuses, with 408, a request whose body stopped arriving for the idle limit: its
   * client is idle, not the server (a connection waiting for a body was never closed). Not while
   * reading is paused, nor before `100 Continue` was sent: then the server is the one waiting.
   */
  private bodyTimedOut(idleMs: number): void {
    const res = this.bodyOf;
    if (res === undefined || this.closing || this.paused || res.expectContinue) return;
    this.bodyOf = undefined;
    this.abandon(res);
    this.refuse(
      new DistkvError('REQUEST_TIMEOUT', `request body stopped arriving: nothing came for ${idleMs} ms`),
    );
  }

  /** declare tells the route how many bytes a chunked body declared so far; a throw is answered as in deliver. */
  private declare(res: HttpResponse, bytes: number): void {
    try {
      res.declare(bytes);
    } catch (err) {
      this.host.fail(res, err);
    }
  }

  /** refuse answers a request that cannot be parsed, in its turn, and closes the connection after it. */
  private refuse(err: DistkvError): void {
    const res = new HttpResponse(this, '', false, false);
    this.queue.push(res);
    this.host.started(res);
    this.stopReading();
    sendError(res, err, { close: true });
  }

  private sendContinue(res: HttpResponse): void {
    res.expectContinue = false;
    this.write('HTTP/1.1 100 Continue\r\n\r\n');
  }

  /** advance drops written responses from the head of the queue and lets the next one write. */
  private advance(): void {
    const q = this.queue;
    while (q.length > 0 && (q[0]!.ended || q[0]!.aborted)) {
      const done = q.shift()!;
      if (done.closeAfter && done.ended) {
        this.abortAll();
        this.shutdown();
        return;
      }
      const next = q[0];
      if (next === undefined) break;
      const out = next.out;
      next.out = undefined;
      if (out !== undefined) for (const data of out) this.send(next, data);
      if (!next.ended) {
        if (next.expectContinue && this.bodyOf === next) this.sendContinue(next);
        next.writable();
      }
    }
    if (q.length === 0 && this.closing) this.shutdown();
    else if (this.paused) this.resumeIfRoom();
  }

  /** resumeIfRoom resumes a paused connection once the socket drained and half its window is free. */
  private resumeIfRoom(): void {
    if (this.out.needDrain || this.out.unsent > MAX_UNSENT_BYTES) return;
    if (this.queue.length <= this.window.size >> 1) this.resume();
  }

  private stopReading(): void {
    this.closing = true;
    this.input = undefined;
    const cut = this.bodyOf;
    this.bodyOf = undefined;
    if (cut !== undefined) this.abandon(cut);
  }

  /** abandon aborts a response that will never be answered (its body never completes). */
  private abandon(res: HttpResponse): void {
    if (res.ended || res.aborted) return;
    res.abort();
    this.settled(res);
    if (this.queue[0] === res) this.advance();
  }

  private pause(): void {
    this.paused = true;
    this.socket.pause();
  }

  private resume(): void {
    this.paused = false;
    this.socket.resume();
    this.parse();
  }

  /** shutdown ends the socket after what is written, reading until the peer closes or LINGER_MS pass. */
  private shutdown(): void {
    if (this.shut || this.closed) return;
    this.shut = true;
    this.flush();
    this.socket.end();
    this.socket.resume();
    setTimeout(() => this.socket.destroy(), LINGER_MS).unref();
  }

  private onPeerEnd(): void {
    this.peerEnded = true;
    this.parse();
  }

  /** write queues bytes for the end of this turn (they must stay valid until then). */
  private write(data: string | Uint8Array): void {
    if (this.outFirst === undefined) {
      this.outFirst = data;
      this.host.flushLater(this);
    } else (this.outRest ??= []).push(data);
  }

  /** flush writes what this turn queued: a lone piece as it is, several in one writev. */
  flush(): void {
    if (this.endedReplies > 0) {
      this.window.fit(this.endedBytes, this.endedReplies);
      this.endedReplies = 0;
      this.endedBytes = 0;
    }
    const first = this.outFirst;
    if (first === undefined) return;
    const rest = this.outRest;
    this.outFirst = undefined;
    this.outRest = undefined;
    if (this.closed) return;
    this.touched = true;
    if (rest === undefined) this.out.write(first);
    else {
      rest.unshift(first);
      this.out.writev(rest);
    }
  }

  private abortAll(): void {
    this.dying = true;
    for (const res of this.queue.splice(0)) {
      if (res.ended || res.aborted) continue;
      res.abort();
      this.settled(res);
    }
  }

  private onClose(): void {
    this.closed = true;
    this.clearHeadTimer();
    this.abortAll();
    this.host.forget(this);
  }
}
