/**
 * The front door: one HTTP/1.1 server (http1-server.ts) per listened address, so a handler knows
 * which node was addressed without trusting the Host header, all on the main thread.
 *
 * It is also where every exchange is accounted for, once: `state.inFlight` (drain waits for zero),
 * the request metrics (node, route, method, status, error code, latency) and the log line of every 500 with its cause.
 *
 * `DISTKV_KV_FAST_PATH=0` in the environment serves every single-key request by the general
 * path (kv-routes.ts without kv-fast.ts): for the test that compares the two, and to rule the
 * fast path out when something looks wrong.
 */
import { codeForStatus } from '../errors.js';
import { registerAdminRoutes, registerFallbackRoutes } from './admin-routes.js';
import { warnIfCertOutOfDates } from './cert-dates.js';
import { registerCollectionRoutes } from './collection-routes.js';
import type { HttpContext, SharedContext } from './context.js';
import { secondsSince } from './http-metrics.js';
import type { HttpResponse } from './http1-exchange.js';
import { type ExchangeObserver, Http1Server } from './http1-server.js';
import { registerKvRoutes, registerSeedKeyRoutes } from './kv-routes.js';
import { registerFailoverRoutes } from './failover-routes.js';
import { registerReplRoutes } from './repl-routes.js';
import { Router } from './router.js';
import { registerWatchRoutes } from './watch-routes.js';

// What an answer adds to its value: status line and headers, rounded up.
const REPLY_HEAD_BYTES = 1024;

/** FrontDoor owns the listeners of this process. */
export class FrontDoor {
  private readonly servers: Http1Server[] = [];
  private readonly shared: SharedContext;
  /** logClosers write the summaries the routes' throttled logs hold (closeLogs). */
  private readonly logClosers: (() => void)[] = [];

  constructor(shared: SharedContext) {
    this.shared = shared;
  }

  /** observerFor accounts for the exchanges of the listener of node `address` (see the design block). */
  private observerFor(address: string): ExchangeObserver {
    const { state, metrics, log } = this.shared;
    return {
      started(): void {
        state.inFlight++;
      },
      finished(res: HttpResponse): void {
        state.inFlight--;
        // A client gone before its answer is not counted; one that closed a stream it was being
        // answered (a watch's SSE, whose normal end is the client's close) was served: counted
        // under the stream's status, as a WebSocket watch's 101 is.
        if (res.aborted && !res.streamed) return;
        const status = res.status;
        // An error answer is counted under its catalogue code; one written without one, under its status's.
        const code = status < 400 ? '' : res.code !== '' ? res.code : codeForStatus(status);
        metrics.observeRequest(res.route, res.method, status, address, code, secondsSince(res.start));
        if (status === 500)
          log.error({ err: res.error, route: res.route }, 'answered 500 Internal Server Error');
      },
    };
  }

  /** listen opens every listener of the plan; it rejects naming the address that could not be bound. */
  async listen(): Promise<void> {
    const { tls_cert, tls_key } = this.shared.config.server;
    // Once for all listeners: they serve the same certificate.
    if (tls_cert !== '') warnIfCertOutOfDates(this.shared.log, tls_cert);
    for (const listener of this.shared.plan.listeners) {
      const ctx: HttpContext = { ...this.shared, listener };
      const router = new Router();
      registerKvRoutes(router, ctx, process.env.DISTKV_KV_FAST_PATH !== '0');
      registerCollectionRoutes(router, ctx);
      registerSeedKeyRoutes(router, ctx);
      registerAdminRoutes(router, ctx);
      this.logClosers.push(registerReplRoutes(router, ctx));
      registerFailoverRoutes(router, ctx);
      registerWatchRoutes(router, ctx);
      registerFallbackRoutes(router, ctx);
      const server = new Http1Server({
        host: listener.host,
        port: listener.port,
        address: listener.address,
        ...(tls_cert === '' ? {} : { tls: { cert: tls_cert, key: tls_key } }),
        router,
        observer: this.observerFor(listener.address),
        log: this.shared.log,
        maxReplyBytes: this.shared.config.server.max_value_bytes + REPLY_HEAD_BYTES,
        connections: this.shared.connections,
        idleTimeoutMs: this.shared.config.server.idle_timeout_ms,
      });
      try {
        await server.listen();
      } catch (err) {
        this.close();
        throw err;
      }
      this.servers.push(server);
    }
  }

  /**
   * quietMs is how long no request has started on any listener since they were closed (Infinity
   * with no connection left): see Http1Server.quietMs.
   */
  quietMs(): number {
    return Math.min(Infinity, ...this.servers.map((s) => s.quietMs()));
  }

  /** trackStarts times the requests' starts on every listener from now on (a stop began). */
  trackStarts(): void {
    for (const s of this.servers) s.trackStarts();
  }

  /** sinceStartMs is how long no request has started on any listener (since trackStarts). */
  sinceStartMs(): number {
    return Math.min(...this.servers.map((s) => s.sinceStartMs()));
  }

  /** endIdle ends every connection with nothing pending, once closed (the stop's last requests are in). */
  endIdle(): void {
    for (const s of this.servers) s.endIdle();
  }

  /** close stops accepting connections; open ones finish the requests they sent, then close. */
  close(): void {
    for (const s of this.servers) s.close();
  }

  /**
   * closeLogs writes what the routes' throttled logs have counted since their last line (refused
   * replication requests: src/util/log-throttle.ts), once no request comes any more.
   */
  closeLogs(): void {
    for (const close of this.logClosers.splice(0)) close();
  }

  /** destroyConnections closes every remaining connection (after the drain limit). */
  destroyConnections(): void {
    for (const s of this.servers.splice(0)) s.destroyConnections();
  }
}
