/**
 * One HTTP/1.1 connection of the front door: its input (http1-input.ts) frames requests as they
 * arrive (heads scanned as latin1), the connection hands each to the router at once and writes
 * the answers back in request order whichever answers first (RFC 9112 section 9.3.2: pipelining).
 *
 * The queue (http1-response-queue.ts) holds the responses of the requests read so far and not yet
 * fully written, oldest first; only its head writes, and what it writes in one event-loop turn is
 * written at the end of the turn (http1-outflow.ts).
 *
 * Bounds: a request runs only while the connection's flow control lets it (http1-outflow.ts: a
 * window of unanswered requests fitted to the answers' sizes, and the bytes waiting unsent);
 * otherwise it and what follows it wait unparsed and reading pauses. A request head is bounded in
 * size and in time, from its first byte to its blank line (http1-head-reader.ts: else 408 and the
 * connection is closed: a client dripping a head a byte at a time never lets the idle limit
 * fire); a request body has a deadline too, a time plus one second per MIN_BODY_RATE bytes
 * received (http1-body-deadline.ts: else 408, the request is aborted and the connection closed),
 * for the same reason; a connection idle for `idleMs` (default IDLE_TIMEOUT_MS) with nothing pending is
 * closed, and one idle that long in the middle of a request body gets 408 for it and is closed
 * (the request is aborted: nothing of it was applied). Idleness is found by the listener's sweep
 * (src/server/idle-sweep.ts), up to one sweep period (2 s) late. A connection paused because its
 * client does not read is idle too once nothing it waits for moves.
 *
 * Read-after-write: a read that arrives while writes of this connection are unanswered is held,
 * and reading pauses, until they are (http1-write-order.ts).
 *
 * Closing: after a response that closes (HTTP/1.0, `Connection: close`, a refused request, drain),
 * no further request is read; once the queue is written the socket is ended, reading (and
 * discarding) until the peer closes or LINGER_MS pass, so a client still sending a refused body
 * gets the answer rather than a reset. A request whose body never completes (the peer ended or
 * died) is aborted: its route never saw the body, so nothing of it was applied. A peer that ends
 * its side gets the answers to every complete request it sent first, and a request whose body it
 * cut short by ending its side (fewer bytes than its Content-Length, or no last chunk) gets 400
 * saying how much arrived, then the connection closes.
 */
import type { Socket } from 'node:net';
import { DistkvError } from '../errors.js';
import { IdleCount, type SweepClose } from '../server/idle-sweep.js';
import type { UnsentAccount } from '../server/unsent-budget.js';
import { BODY_TIMEOUT_MS } from './http1-body-deadline.js';
import { BodyReader, deliverBody } from './http1-body-reader.js';
import { type Detached, type ExchangeSink, HttpResponse } from './http1-exchange.js';
import type { RequestHead } from './http1-head.js';
import { HEAD_TIMEOUT_MS } from './http1-head-reader.js';
import type { ConnectionHost } from './http1-host.js';
import { Http1Input } from './http1-input.js';
import { Http1Outflow } from './http1-outflow.js';
import { ResponseQueue } from './http1-response-queue.js';
import { WriteOrder } from './http1-write-order.js';
import { sendError } from './respond.js';
import { notServingError } from './route.js';
import type { RouteMatch } from './router.js';

/** IDLE_TIMEOUT_MS is the default idle limit of a connection with nothing pending. */
export const IDLE_TIMEOUT_MS = 10000;
const LINGER_MS = 2000;
const EMPTY = Buffer.alloc(0);

/** Http1Connection parses one socket's requests and writes their responses in order. */
export class Http1Connection implements ExchangeSink {
  private readonly socket: Socket;
  // writes the responses and says when a request may run (http1-outflow.ts)
  private readonly out: Http1Outflow;
  private readonly host: ConnectionHost;
  private readonly queue = new ResponseQueue((data) => {
    if (!this.closed && !this.shut) this.out.write(data);
  });
  // the bytes read and not parsed, the body being read, the head deadline (http1-input.ts)
  private readonly in: Http1Input;
  // no more requests are read; the socket ends once the queue is written
  private closing = false;
  // the server stops: the next request read is the last, answered with `Connection: close` (serverStopping)
  private stopping = false;
  private shut = false;
  private paused = false;
  private closed = false;
  // the socket was handed to an upgraded protocol (detach)
  private detached = false;
  // the writes running and the read held back until they are answered
  private readonly order = new WriteOrder();
  // set when the queue is being aborted: nothing more is run
  private dying = false;
  // the peer ended its side: nothing more will arrive
  private peerEnded = false;
  // the sweeps slept through (src/server/idle-sweep.ts); touched at every read and write
  private readonly idle = new IdleCount();
  private readonly idleMs: number;
  private readonly fail = (res: HttpResponse, err: unknown): void => {
    this.host.fail(res, err);
  };
  private readonly onEnd = (): void => {
    this.onPeerEnd();
  };
  private readonly onCloseBound = (): void => {
    this.onClose();
  };
  // a response that became the head of the queue still writing: it may send `100 Continue` and write
  private readonly onHead = (next: HttpResponse): void => {
    if (next.expectContinue && this.in.body?.res === next) this.sendContinue(next);
    next.writable();
  };

  /**
   * `maxReplyBytes` is the largest answer a route may send (the largest value plus its head);
   * `account` counts what waits unsent in the process's budget (src/server/unsent-budget.ts).
   */
  constructor(
    socket: Socket,
    host: ConnectionHost,
    idleMs = IDLE_TIMEOUT_MS,
    headMs = HEAD_TIMEOUT_MS,
    maxReplyBytes = 0,
    account?: UnsentAccount,
    bodyMs = BODY_TIMEOUT_MS,
  ) {
    this.socket = socket;
    this.host = host;
    this.idleMs = idleMs;
    this.in = new Http1Input(
      {
        reading: () => !this.closing,
        mayStart: () => {
          if (this.order.held === undefined && this.out.mayRun(this.queue.length)) return true;
          this.pause();
          return false;
        },
        start: (head) => {
          this.dispatch(head);
        },
        refuse: (err) => {
          this.refuse(err);
        },
        refuseBody: (res, err) => {
          this.refuseBody(res, err);
        },
        stopReading: () => {
          this.stopReading();
        },
      },
      headMs,
      () => {
        this.headTimedOut();
      },
      bodyMs,
      () => {
        this.bodyTooSlow();
      },
    );
    this.out = new Http1Outflow(
      socket,
      maxReplyBytes,
      () => {
        this.queue.head?.writable();
        if (this.paused && this.out.mayResume(this.queue.length)) this.resume();
      },
      () => {
        host.flushLater(this);
      },
      account,
    );
    socket.on('end', this.onEnd);
    socket.on('error', () => undefined);
    socket.on('close', this.onCloseBound);
  }

  /**
   * sweep is the listener's idle sweep (src/server/idle-sweep.ts): a connection untouched (nothing
   * read, nothing written, no progress of what waits unsent) for `sweepsToIdle` sweeps is closed
   * when nothing is pending or when answers wait unsent (its client stopped reading them: a
   * streamed answer would otherwise hold the connection for good), and gets 408 when it is in the
   * middle of a request body. One merely waiting for an answer (nothing unsent) stays open. It
   * returns why it closed the connection ('idle', or 'stalled' when answers waited unsent).
   */
  sweep(sweepsToIdle: number): SweepClose | undefined {
    if (!this.idle.idle(sweepsToIdle, this.out.unsent)) return undefined;
    const stalled = this.out.unsent > 0;
    if (stalled || this.queue.length === 0) {
      this.socket.destroy();
      return stalled ? 'stalled' : 'idle';
    }
    this.bodyTimedOut(this.idleMs);
    return undefined;
  }

  /**
   * serverStopping: the server stops (its listener closed). A connection with requests pending
   * drains (below). One with none keeps reading until `endIdle`: a keep-alive client sends its
   * next request as soon as an answer comes, and one ended under it then saw its request cut off
   * (a write of unknown outcome: "the PUT may have been applied", 0-7 per restart under load).
   * Read, that request is answered (503 DRAINING from route.ts: not executed, so the client sends
   * it again) with `Connection: close`, and nothing after it is read.
   */
  serverStopping(): void {
    if (this.queue.length === 0) this.stopping = true;
    else if (this.arriving() !== undefined) this.lastBody();
    else this.drain();
  }

  /**
   * endIdle ends a connection of a stopping server that has nothing pending (see serverStopping).
   * The stop calls it once quiet or at its drain limit: a request whose body is still arriving
   * then gets 503 DRAINING (its route never saw the body: nothing of it ran, the client may send it
   * again), where the connection was closed under it, unanswered.
   */
  endIdle(): void {
    const res = this.arriving();
    if (res !== undefined) {
      this.in.dropBody();
      this.refuseBody(res, notServingError('draining'));
      return;
    }
    if (this.queue.length > 0 || this.closing) return;
    this.stopReading();
    this.shutdown();
  }

  /** arriving is the request whose body is being read and that no one answered yet, if any. */
  private arriving(): HttpResponse | undefined {
    const res = this.in.body?.res;
    return res === undefined || res.ended || res.aborted ? undefined : res;
  }

  /**
   * lastBody: the server stops while a request's body arrives. That request is in flight (its head
   * was read and counted): its body is read on, up to the stop's drain limit (endIdle), and the
   * request runs once it is whole; it is the last one read (the input stops reading once a body
   * of a `closeAfter` response is whole: http1-input.ts), and its answer closes the connection.
   * Draining here instead dropped the body and closed the connection with nothing written: a
   * write of unknown outcome for its client, though nothing of it ran.
   */
  private lastBody(): void {
    const last = this.queue.pending.at(-1);
    if (last !== undefined) last.closeAfter = true;
  }

  /**
   * drain stops reading requests: the socket ends once the answers to the ones read are written.
   * The last of them says `Connection: close` (unless its head is written already): a keep-alive
   * client that was told nothing sent its next request on the connection as soon as the answer
   * came, and that request, never read, ended in a reset (a write with an unknown outcome) rather
   * than a new connection the stopped listener refuses (never sent, safe to send elsewhere).
   */
  drain(): void {
    this.stopReading();
    const last = this.queue.pending.at(-1);
    if (last !== undefined) last.closeAfter = true;
    if (this.queue.length === 0) this.shutdown();
  }

  /**
   * destroy closes the connection at once (pending responses are aborted). One that is ending
   * with every answer written (shutdown: it reads and drops until its peer closes, or LINGER_MS)
   * is left to end so: closed now, with its client's bytes still arriving, it would be reset, and a
   * reset can take the answer it was just sent (a stop's 503 DRAINING: endIdle) with it.
   */
  destroy(): void {
    if (this.shut && this.queue.length === 0 && !this.closed) return;
    this.socket.destroy();
  }

  send(res: HttpResponse, data: string | Uint8Array): void {
    if (this.closed || this.shut) return;
    res.bytes += data.length;
    this.queue.send(res, data);
  }

  ended(res: HttpResponse): void {
    this.out.ended(res.bytes);
    this.settled(res);
    if (res.closeAfter) this.stopReading();
    if (this.queue.head === res) this.advance();
  }

  needsDrain(res: HttpResponse): boolean {
    return this.queue.head !== res || this.out.needDrain;
  }

  dateLine(): string {
    return this.host.dateLine();
  }

  awaitsBody(res: HttpResponse): boolean {
    return this.in.body?.res === res;
  }

  peer(): string {
    const address = this.socket.remoteAddress;
    return address === undefined ? '' : `${address}:${String(this.socket.remotePort ?? '')}`;
  }

  /** detach gives the socket to an upgraded protocol: `res` must be the only request pending, with no body. */
  detach(res: HttpResponse): Detached | undefined {
    if (this.queue.length !== 1 || this.queue.head !== res || this.in.body !== undefined) return undefined;
    if (this.closed || this.shut || this.order.held !== undefined) return undefined;
    this.flush();
    this.queue.takeAll();
    const head = this.in.take();
    this.closing = true;
    this.shut = true;
    this.closed = true;
    this.detached = true;
    // Only this connection's own 'end' and 'close' handlers go: the listener's (its connection
    // count, the unsent budget's account) stay until the upgraded protocol's socket closes.
    for (const event of ['data', 'drain']) this.socket.removeAllListeners(event);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onCloseBound);
    this.host.forget(this);
    res.ended = true;
    this.host.finished(res);
    return { socket: this.socket, head, account: this.out.account };
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
    this.idle.touched = true;
    if (this.closing) return;
    this.in.add(chunk, transient);
  }

  /** parse starts the requests read while they may start (http1-input.ts). */
  private parse(): void {
    const stalled = this.in.parse();
    if (stalled === undefined) return;
    // The peer sends nothing more: once everything it sent is read, answer it, then close. A
    // request cut off mid-body can never complete; its route never got the body, so it is aborted
    // without effect, and answered 400 saying how much of it came (a half-closed socket still
    // takes the answer), unless its route answered already.
    if (this.peerEnded && !stalled && !this.closing) {
      // refuse queues the answer after the cut request, whose abort (stopReading) lets it write.
      const cut = this.in.body;
      if (cut !== undefined && !cut.res.ended && !cut.res.aborted) {
        this.refuse(new DistkvError('BAD_REQUEST', cut.describeCut()));
        return;
      }
      this.stopReading();
      if (this.queue.length === 0) this.shutdown();
    }
  }

  private dispatch(head: RequestHead): void {
    const keepAlive = head.keepAlive && !this.stopping;
    const res = new HttpResponse(this, head.method, keepAlive, head.minor === 0);
    this.queue.push(res);
    if (this.peerEnded) res.peerEnded();
    this.host.started(res);
    const hasBody = head.chunked || head.contentLength > 0;
    if (hasBody) {
      this.in.body = new BodyReader(res, head.contentLength, head.chunked, this.fail);
      res.expectContinue = head.expectContinue;
    }
    const match = this.host.find(head);
    if (this.order.mustWait(match)) this.order.held = { res, head, match, hasBody };
    else this.run(res, head, match, hasBody);
    if (!keepAlive && !hasBody) this.stopReading();
  }

  private run(res: HttpResponse, head: RequestHead, match: RouteMatch, hasBody: boolean): void {
    this.order.running(res, match);
    this.host.handle(res, head, match);
    if (!hasBody) deliverBody(res, EMPTY, true, this.fail);
    else if (res.expectContinue && !res.ended && this.queue.head === res) this.sendContinue(res);
  }

  /** settled is called once per response that ended or was aborted. */
  private settled(res: HttpResponse): void {
    this.host.finished(res);
    const h = this.order.settled(res);
    if (h === undefined) return;
    if (!h.res.aborted && !this.dying)
      this.run(h.res, h.head, h.match, h.hasBody && this.in.body?.res === h.res);
    if (this.paused) this.resume();
    else this.parse();
  }

  /**
   * headTimedOut refuses a head still incomplete at its deadline. While reading is paused the
   * rest may be waiting unread in the socket: not the client's delay, so the deadline moves on.
   */
  private headTimedOut(): void {
    if (this.closing || !this.in.waitsForHead()) return;
    if (this.paused) this.in.heads.arm();
    else
      this.refuse(
        new DistkvError('REQUEST_TIMEOUT', `request head not received whole within ${this.in.heads.ms} ms`),
      );
  }

  /**
   * bodyTooSlow refuses, with 408, a request whose body did not arrive by its deadline
   * (http1-body-deadline.ts). While reading is paused, or before `100 Continue` was sent, the
   * server is the one waiting: the deadline starts afresh.
   */
  private bodyTooSlow(): void {
    const res = this.in.body?.res;
    if (res === undefined || this.closing) return;
    if (this.paused || res.expectContinue) {
      this.in.bodies.restart();
      return;
    }
    const why = `request body arrived too slowly: ${this.in.bodies.describe()}`;
    this.in.dropBody();
    this.refuseBody(res, new DistkvError('REQUEST_TIMEOUT', why));
  }

  /**
   * bodyTimedOut refuses, with 408, a request whose body stopped arriving for the idle limit: its
   * client is idle, not the server (a connection waiting for a body was never closed). Not while
   * reading is paused, nor before `100 Continue` was sent: then the server is the one waiting.
   */
  private bodyTimedOut(idleMs: number): void {
    const res = this.in.body?.res;
    if (res === undefined || this.closing || this.paused || res.expectContinue) return;
    this.in.dropBody();
    this.refuseBody(
      res,
      new DistkvError('REQUEST_TIMEOUT', `request body stopped arriving: nothing came for ${idleMs} ms`),
    );
  }

  /**
   * refuseBody: the body of `res` cannot be read (malformed, or it stopped arriving). A request
   * not answered yet is aborted and `err` answers it; one its route answered before reading the
   * body (a 401, a 413) gets no second answer: one answer per request. Either way nothing more
   * is read and the connection closes once the answers are written.
   */
  private refuseBody(res: HttpResponse, err: DistkvError): void {
    if (!res.ended) {
      this.abandon(res);
      this.refuse(err, res);
      return;
    }
    this.drain();
  }

  /**
   * refuse answers a request that cannot be parsed, in its turn, and closes the connection after
   * it. The refusal of a body (`of`, the request it ends) is counted under that request's route and
   * method: a PUT whose body stalled was counted as `route="other",method="OTHER"`.
   */
  private refuse(err: DistkvError, of?: HttpResponse): void {
    const res = new HttpResponse(this, of?.method ?? '', false, false);
    if (of !== undefined) res.route = of.route;
    this.queue.push(res);
    this.host.started(res);
    this.stopReading();
    sendError(res, err, { close: true });
  }

  private sendContinue(res: HttpResponse): void {
    res.expectContinue = false;
    this.out.write('HTTP/1.1 100 Continue\r\n\r\n');
    // The client may send the body only now: its deadline counts from here.
    if (this.in.body?.res === res) this.in.bodies.restart();
  }

  /** advance drops written responses from the head of the queue and lets the next one write. */
  private advance(): void {
    const closer = this.queue.advance(this.onHead);
    if (closer !== undefined) {
      this.abortAll();
      this.shutdown();
    } else if (this.queue.length === 0 && this.closing) this.shutdown();
    else if (this.paused && this.out.mayResume(this.queue.length)) this.resume();
  }

  private stopReading(): void {
    this.closing = true;
    const cut = this.in.stop();
    if (cut !== undefined) this.abandon(cut);
  }

  /** abandon aborts a response that will never be answered (its body never completes). */
  private abandon(res: HttpResponse): void {
    if (res.ended || res.aborted) return;
    res.abort();
    this.settled(res);
    if (this.queue.head === res) this.advance();
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
    // A stream may probe whether its client is gone (watch-routes.ts); it writes, nothing leaves the queue.
    for (const res of [...this.queue.pending]) res.peerEnded();
    this.parse();
  }

  /** flush writes what this turn queued (the server calls it at the end of the turn). */
  flush(): void {
    if (!this.out.flush(this.closed)) return;
    this.idle.touched = true;
    // Paused by this turn's answers, which the socket may have taken at once (no drain follows).
    if (this.paused && this.out.mayResume(this.queue.length)) this.resume();
  }

  private abortAll(): void {
    this.dying = true;
    for (const res of this.queue.takeAll()) {
      if (res.ended || res.aborted) continue;
      res.abort();
      this.settled(res);
    }
  }

  private onClose(): void {
    this.closed = true;
    this.in.heads.clear();
    this.in.bodies.clear();
    this.abortAll();
    this.host.forget(this);
  }
}
