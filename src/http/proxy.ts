/**
 * `distkv serve --proxy`: for clients that cannot follow redirects, a single-key request for a key
 * owned by another process is forwarded to the owner and its answer relayed (status, content type,
 * the X-Distkv-* headers and the body), as the seed's code did, instead of a 307.
 *
 * A forwarded request carries `X-Distkv-Forwarded: 1`; a node never forwards such a request again
 * (it answers 307 if it does not own the key), so even nodes that disagree about the config cannot
 * bounce a request between them. An owner that cannot be reached gives 503 SHARD_UNREACHABLE.
 */
import type { Dispatcher } from 'undici';
import { DistkvError } from '../errors.js';
import type { HttpContext } from './context.js';
import { errorCodeOf, type Route, secondsSince } from './http-metrics.js';
import { sendError, statusLine } from './respond.js';
import type { HttpResponse } from './uws.js';

/** FORWARDED_HEADER marks a request one node forwarded to another. */
export const FORWARDED_HEADER = 'x-distkv-forwarded';

/**
 * proxyToOwner relays `method path` (with `body`) to `owner`. The caller must have registered
 * `res.onAborted` and passes its state; nothing is written once the client is gone.
 */
export function proxyToOwner(
  res: HttpResponse,
  ctx: HttpContext,
  state: { aborted: boolean },
  method: Dispatcher.HttpMethod,
  owner: string,
  shard: number,
  path: string,
  body: Uint8Array | undefined,
  route: Route,
  start: number,
): void {
  ctx.state.inFlight++;
  ctx.forwarder.relay(owner, method, path, body).then(
    (r) => {
      ctx.state.inFlight--;
      if (state.aborted) return;
      res.cork(() => {
        res.writeStatus(statusLine(r.status));
        for (const [name, value] of r.headers) res.writeHeader(name, value);
        res.end(r.body);
      });
      ctx.metrics.observeRequest(
        route,
        method,
        r.status,
        ctx.listener.address,
        r.status >= 400 ? relayedErrorCode(r.body) : '',
        secondsSince(start),
      );
    },
    (err: unknown) => {
      ctx.state.inFlight--;
      if (state.aborted) return;
      const e = new DistkvError(
        'SHARD_UNREACHABLE',
        `shard ${shard} (owner ${owner}) did not answer the forwarded request: ${(err as Error).message}`,
      );
      res.cork(() => {
        sendError(res, e);
      });
      ctx.metrics.observeRequest(route, method, e.status, ctx.listener.address, e.code, secondsSince(start));
    },
  );
}

/** relayedErrorCode reads the error code of an owner's JSON error answer ('' for a seed text answer). */
function relayedErrorCode(body: Uint8Array): string {
  try {
    return errorCodeOf(JSON.parse(Buffer.from(body).toString('utf8')));
  } catch {
    return '';
  }
}
