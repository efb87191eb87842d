/**
 * `distkv serve --proxy`: for clients that cannot follow redirects, a single-key request for a key
 * owned by another process is forwarded to the owner (with its If-Match / If-None-Match) and its
 * answer relayed (status, content type, ETag, the X-Distkv-* headers and the body), as the seed's code did, instead of a 307.
 *
 * The conditions go on exactly as they came, every field line of each, empty ones included, so the
 * owner checks them as it checks a request sent to it (src/http/write-conditions.ts): it refuses a
 * doubled or empty If-Match. Forwarding only the first line let `If-Match: *` then `If-Match: "E.S"`
 * write whatever the version, and dropping an empty one wrote unconditionally.
 *
 * A forwarded request carries `X-Distkv-Forwarded: 1` (FORWARDED_HEADER); a node never forwards
 * such a request again (it answers 307 if it does not own the key), so even nodes that disagree
 * about the config cannot bounce a request between them. An owner that cannot be reached gives
 * 503 SHARD_UNREACHABLE, but a write that was sent and not answered (it may have been applied)
 * 503 OUTCOME_UNKNOWN, which a client must not send again as it may one never sent. Writes pipelined on one connection are relayed to their owner one after
 * the other, so it applies them in the order they came; those behind one it did not answer are
 * held back, not sent (forwarder.ts, inOrder), and their 503 says they were not applied.
 * An owner's SLOTS_DISPUTED or CONFIG_MISMATCH is relayed as it came, and makes this node ask that
 * owner for its config at once (PeerCheck.refusedBy) rather than at its next peer check.
 */
import type { Dispatcher } from 'undici';
import { DistkvError } from '../errors.js';
import { neverSent } from '../util/never-sent.js';
import type { HttpContext } from './context.js';
import { errorCodeOf } from './http-metrics.js';
import type { HttpRequest, HttpResponse } from './http1-exchange.js';
import { sendError, statusLine } from './respond.js';
import { parseQuery, uintOf } from './request-parse.js';
import { answerLater } from './route.js';
import { DEFAULT_W_TIMEOUT_MS, MAX_W_TIMEOUT_MS } from './write-conditions.js';

/** CONDITION_HEADERS are the write conditions a proxied request carries on to its owner. */
const CONDITION_HEADERS = ['if-match', 'if-none-match'] as const;

/** forwardedConditions returns every value of each condition header of `req`, in order, as the owner must see them. */
export function forwardedConditions(req: HttpRequest): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const name of CONDITION_HEADERS) {
    const values = req.getHeaders(name);
    if (values.length > 0) out[name] = [...values];
  }
  return out;
}

/**
 * proxyToOwner relays `method path` (with `body`, which must stay valid) to `owner` and answers
 * with its reply; `waitMs` is how long the owner may hold a write for its replicas (relayWaitMs).
 */
export function proxyToOwner(
  res: HttpResponse,
  ctx: HttpContext,
  method: Dispatcher.HttpMethod,
  owner: string,
  shard: number,
  path: string,
  body: Uint8Array | undefined,
  headers: Record<string, string[]> = {},
  waitMs = 0,
): void {
  const write = method !== 'GET' || path.startsWith('/set?');
  const relay = (): ReturnType<typeof ctx.forwarder.relay> =>
    ctx.forwarder.relay(owner, method, path, body, headers, waitMs, write);
  answerLater(
    res,
    // A write after the ones this connection relayed to the owner before (forwarder.ts: inOrder).
    write ? ctx.forwarder.inOrder(res.connection, owner, relay) : relay(),
    (r, reply) => {
      if (reply.status >= 400) {
        r.code = relayedErrorCode(reply.body);
        // An owner that refuses as a node in a dispute does: ask it for its config now (peer-check.ts).
        ctx.peers.refusedBy(owner, r.code);
      }
      r.writeStatus(statusLine(reply.status));
      for (const [name, value] of reply.headers) r.writeHeader(name, value);
      r.end(reply.body);
    },
    (r, err) => {
      const why = (err as Error).message;
      // A write that may have reached the owner says so by its code (OUTCOME_UNKNOWN): the client
      // library sends SHARD_UNREACHABLE writes again to a new leader, which would apply it twice.
      const unknown = write && !neverSent(err);
      sendError(
        r,
        new DistkvError(
          unknown ? 'OUTCOME_UNKNOWN' : 'SHARD_UNREACHABLE',
          write && !unknown
            ? `shard ${shard} (owner ${owner}) could not be reached: ${why}; nothing was sent to it: the write was not applied`
            : `shard ${shard} (owner ${owner}) did not answer the forwarded request: ${why}${unknown ? '; the write may have been applied' : ''}`,
        ),
      );
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

/**
 * relayWaitMs is how long an owner may hold the write of `query` for its replicas' acks: its
 * `timeout_ms` (DEFAULT_W_TIMEOUT_MS without one) when `w` asks for any, else 0. The query is
 * read loosely, as the owner checks it.
 */
export function relayWaitMs(query: string): number {
  if (!query.includes('w=')) return 0;
  const { params } = parseQuery(query);
  const w = params.get('w');
  if (w === undefined || !(uintOf(w) > 0)) return 0;
  const t = uintOf(params.get('timeout_ms') ?? '');
  return Number.isNaN(t) ? DEFAULT_W_TIMEOUT_MS : Math.min(t, MAX_W_TIMEOUT_MS);
}
