/**
 * The seam between the HTTP/1.1 server (http1-server.ts) and its connections
 * (http1-connection.ts): what a connection asks of the server it belongs to (routing, running a
 * route, accounting, the Date line, the end-of-turn flush), so a connection can be driven by a
 * test's own host.
 */
import type { Http1Connection } from './http1-connection.js';
import type { HttpResponse } from './http1-exchange.js';
import type { RequestHead } from './http1-head.js';
import type { RouteMatch } from './router.js';

/** ConnectionHost is what a connection needs from its server. */
export interface ConnectionHost {
  /** find matches a request to its route. */
  find(head: RequestHead): RouteMatch;
  /** handle runs a route (its fast handler first, if it has one); it may answer now or later. */
  handle(res: HttpResponse, head: RequestHead, match: RouteMatch): void;
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
