/**
 * What every route shares, in one place:
 *  - `route()` wraps a handler: it labels the exchange for the metrics (recorded once, when the
 *    response ends, by front-door.ts), and answers 503 while the node is starting or draining,
 *    with `Retry-After: 1` (RFC 9110 §10.2.3): not executed, ask again (a starting node opens its
 *    stores in seconds; a draining one's shards move to a replica), as a leader switch is answered;
 *    a draining node's 503 also closes the connection (`Connection: close`).
 *    The start time and the abort flag live on the response itself (`res.start`, `res.aborted`);
 *    a handler that throws is answered 500 and logged by the server (http1-server.ts).
 *  - `answerLater()` answers when a promise settles, unless the client is gone by then.
 */
import { DistkvError } from '../errors.js';
import type { HttpContext } from './context.js';
import type { Route } from './http-metrics.js';
import type { HttpResponse } from './http1-exchange.js';
import { sendError } from './respond.js';
import type { Handler } from './router.js';

/** notServingError is the 503 of a node that is starting or draining. */
export function notServingError(phase: 'starting' | 'draining'): DistkvError {
  return phase === 'draining'
    ? new DistkvError('DRAINING', 'node is shutting down; retry on another node or after restart')
    : new DistkvError('STARTING', 'node is starting; its stores are not open yet');
}

/** RETRY_LATER is the header of a 503 that was not executed and may be sent again shortly. */
const RETRY_LATER = { headers: { 'Retry-After': '1' } } as const;

/** RouteOptions: `always` serves the route while starting and draining too (no 503). */
export interface RouteOptions {
  always?: boolean;
}

/** route wraps `handler` as route `name` (see the design block). */
export function route(ctx: HttpContext, name: Route, handler: Handler, options: RouteOptions = {}): Handler {
  const always = options.always === true;
  return (res, req) => {
    res.route = name;
    const phase = ctx.state.phase;
    if (!always && phase !== 'serving') {
      // A draining node closes the connection with its 503: the client's next try opens another
      // (answered, or refused once the listener is closed: never sent). Kept alive, a connection
      // sat idle through the client's 100 ms wait (src/client/sender.ts) and the drain ended it
      // after 100 ms quiet (node-drain.ts) as the retry went out on it: cut unanswered, a write
      // of unknown outcome (2 to 8 in 3 of 9 graceful stops with etcd, 8 writers).
      if (phase === 'draining') res.closeAfter = true;
      sendError(res, notServingError(phase), RETRY_LATER);
      return;
    }
    handler(res, req);
  };
}

/**
 * answerLater writes `write(res, value)` when `work` resolves, or `fail(res, err)` (default: the
 * JSON error) when it rejects — nothing when the client is gone by then. A `write` that throws is
 * answered with `fail` too, so no rejection is left unhandled.
 */
export function answerLater<T>(
  res: HttpResponse,
  work: Promise<T>,
  write: (res: HttpResponse, value: T) => void,
  fail: (res: HttpResponse, err: unknown) => void = sendError,
): void {
  work.then(
    (value) => {
      if (res.aborted) return;
      try {
        write(res, value);
      } catch (err) {
        if (!res.ended) fail(res, err);
      }
    },
    (err: unknown) => {
      if (!res.aborted && !res.ended) fail(res, err);
    },
  );
}
