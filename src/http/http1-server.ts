/**
 * The HTTP/1.1 server of one listened address, on node:net (node:tls when a certificate is
 * configured). docs/architecture.md says why distkv does not use uWebSockets.js's HTTP parser:
 * it closes a connection that pipelines a request while an earlier one is unanswered, and distkv
 * answers most requests later (from a worker thread, after an fsync).
 *
 * Listening is exclusive: an address already in use is a startup error naming it. A route that
 * throws is answered 500 and logged with its cause (respond.ts logs every 500). `OPTIONS *` (the
 * only request with the target `*`: http1-head.ts) is answered here with the server's methods.
 */
import { readFileSync } from 'node:fs';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Logger } from 'pino';
import { boundLabel } from '../config/address.js';
import { DistkvError } from '../errors.js';
import { expiredForward } from './forward-deadline.js';
import { Http1Connection, IDLE_TIMEOUT_MS } from './http1-connection.js';
import { HEAD_TIMEOUT_MS } from './http1-head-reader.js';
import type { ConnectionHost } from './http1-host.js';
import { HttpRequest, type HttpResponse } from './http1-exchange.js';
import type { RequestHead } from './http1-head.js';
import type { ConnectionLimit } from '../server/connection-limit.js';
import { IdleSweep } from '../server/idle-sweep.js';
import { SharedRead } from '../server/shared-read.js';
import { errorBody, sendError, statusLine } from './respond.js';
import { tlsOrPlainServer } from './tls-or-plain.js';
import type { RouteMatch, Router } from './router.js';

// The front door registers a catch-all route; this answers 500 if a router has none.
const NO_ROUTE: RouteMatch = {
  handler: (_res, req) => {
    throw new Error(`no route for ${req.getMethod()} ${req.getUrl()}`);
  },
  write: false,
};

/** SERVER_METHODS are the methods some route takes, and OPTIONS itself: `OPTIONS *` lists them (RFC 9110 section 9.3.7). */
const SERVER_METHODS = 'GET, HEAD, PUT, DELETE, POST, OPTIONS';

// `OPTIONS *` asks about the server, not a resource: no route takes it.
const OPTIONS_SERVER: RouteMatch = {
  handler: (res) => {
    res.writeHeader('Allow', SERVER_METHODS).end();
  },
  write: false,
};

/** ExchangeObserver is told when each request starts and finishes (status 0 when aborted). */
export interface ExchangeObserver {
  started(res: HttpResponse): void;
  finished(res: HttpResponse): void;
}

/** Http1ServerOptions configure one listener. */
export interface Http1ServerOptions {
  host: string;
  port: number;
  /** address names the listener in errors and logs. */
  address: string;
  /** tls: PEM file paths; both set = HTTPS. */
  tls?: { cert: string; key: string };
  router: Router;
  observer: ExchangeObserver;
  log: Logger;
  /** idleTimeoutMs closes connections idle that long with nothing pending (default IDLE_TIMEOUT_MS; found up to 2 s late). */
  idleTimeoutMs?: number;
  /** headTimeoutMs is how long a request head may take from its first byte (default HEAD_TIMEOUT_MS; then 408). */
  headTimeoutMs?: number;
  /** bodyTimeoutMs is how long a request body may take on top of 1 s per MIN_BODY_RATE bytes (default BODY_TIMEOUT_MS; then 408). */
  bodyTimeoutMs?: number;
  /** maxReplyBytes is the largest answer a route may send (sizes the pipeline window; default: none). */
  maxReplyBytes?: number;
  /** connections is the process's connection limit (src/server/connection-limit.ts; default: none). */
  connections?: ConnectionLimit;
}

/** Http1Server accepts connections for one address and serves them with its router. */
export class Http1Server implements ConnectionHost {
  private readonly options: Http1ServerOptions;
  private readonly server: Server;
  private readonly connections = new Set<Http1Connection>();
  // closes idle connections (src/server/idle-sweep.ts); runs until closed with no connection left
  private readonly idle: IdleSweep;
  private closed = false;
  // when close() was called and when a request last started after it (quietMs)
  private closedAt = 0;
  private lastStartAt = 0;
  // a stop began (trackStarts) or the server closed: request starts are timed (quietMs, sinceStartMs)
  private tracking = false;
  // The Date line, built once per second: cleared by a timer at the next second boundary.
  private date = '';
  private readonly expireDate = (): void => {
    this.date = '';
  };
  // Connections with bytes to write at the end of this turn: one tick for all of them, rather than
  // one per response (a nextTick allocates and is dispatched on its own).
  private readonly toFlush: Http1Connection[] = [];
  private readonly flushAll = (): void => {
    const list = this.toFlush;
    // A flush may queue another connection: the loop reads the length each time. One that throws
    // loses its connection, not the others' writes.
    for (let i = 0; i < list.length; i++) {
      const conn = list[i]!;
      try {
        conn.flush();
      } catch (err) {
        this.options.log.error({ err }, 'writing to a connection failed; closing it');
        conn.destroy();
      }
    }
    list.length = 0;
  };

  constructor(options: Http1ServerOptions) {
    this.options = options;
    const limit = options.connections;
    this.idle = new IdleSweep(
      options.idleTimeoutMs ?? IDLE_TIMEOUT_MS,
      () => this.connections,
      limit === undefined
        ? undefined
        : (why) => {
            if (why === 'idle') limit.closedIdle++;
            else limit.closedStalled++;
          },
    );
    this.idle.start();
    const reads = new SharedRead();
    const onSocket = (accepted: Socket): void => {
      let release: (() => void) | undefined = undefined;
      if (options.connections !== undefined) {
        release = options.connections.admit();
        if (release === undefined) {
          this.refuseConnection(accepted, options.connections);
          return;
        }
      }
      let conn: Http1Connection | undefined = undefined;
      const socket = reads.adopt(accepted, true, (chunk, transient) => {
        conn?.read(chunk, transient);
      });
      if (release !== undefined) socket.once('close', release);
      conn = new Http1Connection(
        socket,
        this,
        options.idleTimeoutMs,
        options.headTimeoutMs,
        options.maxReplyBytes,
        options.connections?.unsent.open(socket),
        options.bodyTimeoutMs,
      );
      this.connections.add(conn);
    };
    this.server =
      options.tls === undefined
        ? createNetServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true }, onSocket)
        : tlsOrPlainServer(
            createTlsServer(
              {
                allowHalfOpen: true,
                noDelay: true,
                cert: readFileSync(options.tls.cert),
                key: readFileSync(options.tls.key),
              },
              onSocket,
            ),
            () => this.plainToTlsAnswer(),
            options.headTimeoutMs ?? HEAD_TIMEOUT_MS,
          );
  }

  /** plainToTlsAnswer is the 400 a client speaking plain HTTP to this HTTPS listener gets (tls-or-plain.ts). */
  private plainToTlsAnswer(): string {
    const body = errorBody(
      new DistkvError(
        'BAD_REQUEST',
        `${this.options.address} speaks HTTPS: this was plain HTTP sent to it (use https://, and the CA of the node's certificate)`,
      ),
    );
    return (
      `HTTP/1.1 ${statusLine(400)}\r\n${this.dateLine()}Content-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
    );
  }

  /** refuseConnection answers a connection over the process's limit with 503 and closes it. */
  private refuseConnection(socket: Socket, limit: ConnectionLimit): void {
    const body = errorBody(
      new DistkvError('UNAVAILABLE', `max number of clients reached (${limit.describe()})`),
    );
    limit.refuse(
      socket,
      `HTTP/1.1 ${statusLine(503)}\r\n${this.dateLine()}Content-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }

  /**
   * listen binds the address exclusively; it rejects naming the address when it cannot: the one it
   * binds, and the node's when `--listen` binds another (it named only the node's, a port that
   * was free on an address that may not even be this machine's).
   */
  listen(): Promise<void> {
    const { host, port, address } = this.options;
    const where = boundLabel({ host, port }, address);
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        const why =
          err.code === 'EADDRINUSE'
            ? 'the port is in use (is another distkv or another server running there?)'
            : err.code === 'EADDRNOTAVAIL'
              ? 'the address is not on this machine'
              : err.code === 'EACCES'
                ? 'permission denied (ports below 1024 need privileges)'
                : err.message;
        reject(new DistkvError('UNAVAILABLE', `cannot listen on ${where}: ${why}`, { cause: err }));
      };
      this.server.once('error', onError);
      this.server.listen({ host, port, exclusive: true }, () => {
        this.server.off('error', onError);
        this.server.on('error', (err) => {
          this.options.log.error({ err, address }, 'listener error');
        });
        resolve();
      });
    });
  }

  /**
   * close stops accepting; open connections finish the requests they sent, then close, and those
   * with nothing pending read on until `endIdle` (Http1Connection.serverStopping).
   */
  close(): void {
    this.closed = true;
    this.tracking = true;
    this.closedAt = performance.now();
    this.server.close();
    for (const c of this.connections) c.serverStopping();
    if (this.connections.size === 0) this.idle.stop();
  }

  /**
   * quietMs is how long no request has started since the server was closed (Infinity with no
   * connection left): a stop ends the idle connections (endIdle) once it is quiet for a while.
   */
  quietMs(): number {
    if (this.connections.size === 0) return Infinity;
    return performance.now() - Math.max(this.closedAt, this.lastStartAt);
  }

  /** trackStarts times every request's start from now on (a stop began; sinceStartMs). */
  trackStarts(): void {
    this.tracking = true;
    this.lastStartAt = performance.now();
  }

  /** sinceStartMs is how long no request has started since trackStarts, on any connection, or none. */
  sinceStartMs(): number {
    return performance.now() - this.lastStartAt;
  }

  /** endIdle ends the connections of a closed server that have nothing pending. */
  endIdle(): void {
    for (const c of [...this.connections]) c.endIdle();
  }

  /** destroyConnections closes every connection at once (after the drain limit). */
  destroyConnections(): void {
    for (const c of this.connections) c.destroy();
  }

  find(head: RequestHead): RouteMatch {
    const path = head.path;
    if (path === '*') return OPTIONS_SERVER;
    return this.options.router.find(head.method, path) ?? NO_ROUTE;
  }

  handle(res: HttpResponse, head: RequestHead, match: RouteMatch): void {
    try {
      // A forwarded write past its sender's deadline is not started (forward-deadline.ts).
      const late = match.write ? expiredForward(head) : undefined;
      if (late !== undefined) {
        sendError(res, late);
        return;
      }
      // The request object is built only for a route's Handler (router.ts: fast handlers).
      if (match.fast === undefined || !match.fast(res, head)) match.handler(res, new HttpRequest(head));
    } catch (err) {
      this.fail(res, err);
    }
  }

  fail(res: HttpResponse, err: unknown): void {
    if (!res.ended && !res.aborted) sendError(res, err);
    else this.options.log.error({ err, route: res.route }, 'a route threw after answering');
  }

  started(res: HttpResponse): void {
    if (this.tracking) this.lastStartAt = performance.now();
    this.options.observer.started(res);
  }

  finished(res: HttpResponse): void {
    this.options.observer.finished(res);
  }

  dateLine(): string {
    if (this.date === '') {
      const now = Date.now();
      this.date = `Date: ${new Date(now).toUTCString()}\r\n`;
      setTimeout(this.expireDate, 1000 - (now % 1000)).unref();
    }
    return this.date;
  }

  forget(conn: Http1Connection): void {
    this.connections.delete(conn);
    if (this.closed && this.connections.size === 0) this.idle.stop();
  }

  flushLater(conn: Http1Connection): void {
    if (this.toFlush.push(conn) === 1) process.nextTick(this.flushAll);
  }
}
