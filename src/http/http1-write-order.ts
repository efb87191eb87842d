/**
 * Read-after-write on one HTTP/1.1 connection (http1-connection.ts). A worker holds a GET of a key
 * whose write is still in flight on that store until the write is durable
 * (src/worker/store-reads.ts), but that covers neither a scan nor a write this node forwards to
 * another (`--proxy`, batches). So a read (a route not marked as writing, router.ts) that arrives
 * while writes of its connection are unanswered is held, and the connection reads nothing more,
 * until they are; writes behind writes go on at once.
 */
import type { HttpResponse } from './http1-exchange.js';
import type { RequestHead } from './http1-head.js';
import type { RouteMatch } from './router.js';

/** Held is a read that waits for the writes before it on its connection. */
export interface Held {
  res: HttpResponse;
  head: RequestHead;
  match: RouteMatch;
  hasBody: boolean;
}

/** WriteOrder counts a connection's unanswered writes and keeps the read that waits for them. */
export class WriteOrder {
  private writes = 0;
  /** held is the read waiting, if any (at most one: the connection reads nothing more meanwhile). */
  held: Held | undefined;

  /** mustWait reports whether a request of route `match` must wait for the writes before it. */
  mustWait(match: RouteMatch): boolean {
    return !match.write && this.writes > 0;
  }

  /** running notes that `res`, of route `match`, runs now. */
  running(res: HttpResponse, match: RouteMatch): void {
    res.pendingWrite = match.write;
    if (match.write) this.writes++;
  }

  /** settled notes that `res` ended or was aborted; it returns the held read when it may run now. */
  settled(res: HttpResponse): Held | undefined {
    if (!res.pendingWrite) return undefined;
    res.pendingWrite = false;
    if (--this.writes > 0 || this.held === undefined) return undefined;
    const h = this.held;
    this.held = undefined;
    return h;
  }
}
