/**
 * One HTTP exchange over an undici Pool, driven through `dispatch` (half the CPU of `request()`):
 * collects the status, the headers the client reads and the body (at most MAX_REPLY_BYTES), and
 * honours an AbortSignal.
 */
import type { Dispatcher } from 'undici';
import { DistkvError } from '../errors.js';
import { tlsFailureOf } from '../util/tls-failure.js';
import type { TimeoutFacts } from './types.js';

/**
 * MAX_REPLY_BYTES bounds an answer's body: no distkv answer comes near it (a value is at most
 * 64 MiB, a scan page about 22 MiB of items plus one value as base64: docs/api.md), so a node that
 * sends more (a broken or hostile one, an endless body) fails the exchange instead of growing the
 * client's memory until it dies.
 */
export const MAX_REPLY_BYTES = 256 * 1024 * 1024;

/** Reply is one HTTP exchange as the client sees it. */
export interface Reply {
  status: number;
  body: Buffer;
  location: string | undefined;
  /** config is X-Distkv-Config: the topology hash of a node that redirected. */
  config: string | undefined;
  /** map is X-Distkv-Map: the live map version of the node that answered (redirects, held writes). */
  map: number | undefined;
  /** seq is X-Distkv-Seq: the seq of an acknowledged write. */
  seq: string | undefined;
  /** existed is X-Distkv-Existed of a DELETE ("1" or "0"). */
  existed: string | undefined;
  /** deleted is X-Distkv-Deleted of a PUT ("1": its expiry was past, so it was written as a delete). */
  deleted: string | undefined;
  /** etag is the ETag of a GET, a PUT or a 412: the key's version, quoted. */
  etag: string | undefined;
  /** lag is X-Distkv-Lag of a read a replica served. */
  lag: string | undefined;
}

const EMPTY = Buffer.alloc(0);

/**
 * exchange performs one request on `pool`; it rejects with the signal's reason when aborted.
 * `headersTimeoutMs` replaces the pool's wait for the answer's head (a write that waits for replicas).
 */
export function exchange(
  pool: Dispatcher,
  method: string,
  path: string,
  body: Uint8Array | string | undefined,
  headers: Record<string, string>,
  signal: AbortSignal | undefined,
  headersTimeoutMs?: number,
  maxBodyBytes = MAX_REPLY_BYTES,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(signal.reason as Error);
      return;
    }
    const reply: Reply = {
      status: 0,
      body: EMPTY,
      location: undefined,
      config: undefined,
      map: undefined,
      seq: undefined,
      existed: undefined,
      deleted: undefined,
      etag: undefined,
      lag: undefined,
    };
    const chunks: Buffer[] = [];
    let bytes = 0;
    const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
    let onAbort: (() => void) | undefined;
    const done = (): void => {
      if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
    };
    const handler: Dispatcher.DispatchHandler = {
      // undici treats a handler as the current API only when it has onRequestStart.
      onRequestStart: (controller) => {
        if (signal === undefined) return;
        onAbort = () => {
          controller.abort(signal.reason as Error);
        };
        signal.addEventListener('abort', onAbort, { once: true });
      },
      onResponseStart: (_controller, status, h) => {
        reply.status = status;
        reply.location = one(h.location);
        reply.config = one(h['x-distkv-config']);
        const map = one(h['x-distkv-map']);
        reply.map = map === undefined ? undefined : Number(map);
        reply.seq = one(h['x-distkv-seq']);
        reply.existed = one(h['x-distkv-existed']);
        reply.deleted = one(h['x-distkv-deleted']);
        reply.etag = one(h.etag);
        reply.lag = one(h['x-distkv-lag']);
      },
      onResponseData: (controller, chunk) => {
        bytes += chunk.length;
        if (bytes > maxBodyBytes) {
          chunks.length = 0;
          controller.abort(
            new DistkvError(
              'INTERNAL',
              `${method} ${path}: the answer's body passed ${maxBodyBytes} bytes, more than any distkv answer`,
            ),
          );
          return;
        }
        chunks.push(chunk);
      },
      onResponseEnd: () => {
        done();
        reply.body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
        resolve(reply);
      },
      onResponseError: (_controller, err) => {
        done();
        reject(signal?.aborted === true ? (signal.reason as Error) : notHttpHint(err));
      },
    };
    pool.dispatch(
      {
        path,
        method,
        ...(body === undefined ? {} : { body }),
        headers,
        ...(headersTimeoutMs === undefined ? {} : { headersTimeout: headersTimeoutMs }),
      },
      handler,
    );
  });
}

/**
 * notHttpHint adds to an error of undici's HTTP parser (HTTPParserError) that the peer did not
 * answer in HTTP, and the likeliest reason: a node's RESP port given for its HTTP port (`npm start`
 * prints both). Other errors are returned as they are.
 */
function notHttpHint(err: Error): Error {
  if (err.name !== 'HTTPParserError') return err;
  const data = (err as { data?: unknown }).data;
  const resp = typeof data === 'string' && /^[-+:$*]/.test(data);
  const port =
    "a node's RESP port is its HTTP port + server.resp_port_offset (1000 by default): give the HTTP one";
  return new Error(
    resp
      ? `the node answered in RESP (the Redis protocol), not in HTTP: it is likely a RESP port; ${port}`
      : `the node did not answer in HTTP (${err.message}): is it a RESP port? ${port}`,
    { cause: err },
  );
}

/** causeCode is the `code` of a connection error, or of the one a DistkvError was caused by. */
function causeCode(err: unknown): unknown {
  const cause = err instanceof DistkvError ? err.cause : err;
  return (cause as { code?: unknown } | null)?.code;
}

/**
 * refused reports whether `err` (a connection error, or a DistkvError caused by one) is a refused
 * connection: nothing listens at the node's address (stopped, or in the gap of a restart).
 */
export function refused(err: unknown): boolean {
  return causeCode(err) === 'ECONNREFUSED';
}

/**
 * Attempts describe the tries of one call that ended in a failed exchange: the client's
 * `timeoutMs`, the node's wait for `w` added to it (0 without), how many exchanges the call made
 * and how long it took in all (retries, backoffs and map look-ups included; unknown for a look
 * across nodes), and how the client names its timeout (ClientOptions.describeTimeout).
 */
export interface Attempts {
  timeoutMs: number;
  waitMs: number;
  attempts?: number;
  elapsedMs?: number;
  describe: (timeout: TimeoutFacts) => string;
}

/**
 * describeTimeout is ClientOptions.describeTimeout's default: it names the option, its value, the
 * wait for `w` on top and the tries, "the client's timeout (timeoutMs 10000 ms, one attempt, 10.0 s
 * in all)".
 */
export function describeTimeout(t: TimeoutFacts): string {
  const wait = t.waitMs > 0 ? ` plus ${String(t.waitMs)} ms for w` : '';
  return `the client's timeout (timeoutMs ${String(t.timeoutMs)} ms${wait}${t.tries === undefined ? '' : `, ${t.tries}`})`;
}

/**
 * connectFailure is the message of a failed exchange for a user: a refused connection says what
 * it means ("connect ECONNREFUSED 127.0.0.1:8080" alone read as a crash of the client), and so do
 * a connection closed unanswered and the TLS failures of a wrong scheme or a missing CA
 * (`https://` to a plain HTTP node printed OpenSSL's own line, "...:error:0A00010B:SSL
 * routines:ssl3_get_record:wrong version number: ../deps/openssl/...", with its newline), and
 * a certificate an operator must renew or reissue (expired, naming another address: the kinds of
 * src/util/tls-failure.ts, the node's own checks of its peers use too). A timeout names the
 * timeout, as the client words it (`tries.describe`), the attempts and the time they took: it
 * said "timeoutMs, 10 s by default" to a client made with 2 s whose call failed after 12 s.
 */
export function connectFailure(err: unknown, tries?: Attempts): string {
  const message = (err as Error).message.trim();
  const code = causeCode(err);
  if (refused(err))
    return `${message} (nothing listens there: the node is stopped, or restarting, or this is not its HTTP address)`;
  // undici's "other side closed" alone did not say which side, nor why: a node stopping meanwhile,
  // or an address that is no distkv node's plain HTTP one (redis-server closes, unanswered, any
  // connection that sends it an HTTP request's "Host:" line; a node with server.tls_cert closes a
  // connection that does not start TLS, and `http://` for it said nothing of https).
  if (code === 'UND_ERR_SOCKET')
    return `${message} (the node closed the connection before it answered in full: it stopped meanwhile, or this is not a distkv node's HTTP address: a node that serves HTTPS (server.tls_cert) closes a plain HTTP connection so, give it as https://HOST:PORT; so does a Redis server)`;
  // undici's "Headers Timeout Error" alone did not say whose timeout ran out, nor what it means.
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT')
    return `${message}: the node did not answer within ${timeoutText(tries)}; it is paused, frozen or overloaded, or its network drops the packets`;
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER')
    return 'the node does not answer in TLS (an https:// address for a node that serves plain HTTP?): give it as http://HOST:PORT or HOST:PORT';
  switch (tlsFailureOf(err)?.kind) {
    case 'untrusted':
      return `${message}: the node's certificate is not signed by a CA this client trusts (give the CA's PEM file: the client's ca option; --ca FILE or DISTKV_CA for distkv)`;
    case 'dates':
      return `${message}: the node's certificate is outside its validity dates (renew it on the node; check this machine's clock too)`;
    case 'name':
      return `${message}: the node's certificate does not name the address it was called at (give the address its certificate names, or give the node a certificate whose subjectAltName holds this one)`;
    default:
      return message;
  }
}

/** timeoutText names the timeout that ran out, as the client words it, with the attempts and their total time when known. */
function timeoutText(tries: Attempts | undefined): string {
  if (tries === undefined) return "the client's timeout (timeoutMs)";
  const n = tries.attempts;
  const over =
    n === undefined || tries.elapsedMs === undefined
      ? undefined
      : `${n === 1 ? 'one attempt' : `each of ${String(n)} attempts`}, ${(tries.elapsedMs / 1000).toFixed(1)} s in all`;
  return tries.describe({
    timeoutMs: tries.timeoutMs,
    waitMs: tries.waitMs,
    ...(over === undefined ? {} : { tries: over }),
  });
}

/** abortable resolves like `p`, or rejects with the signal's reason as soon as it aborts. */
export function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return p;
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    p.finally(() => {
      signal.removeEventListener('abort', onAbort);
    }).then(resolve, reject);
  });
}

/** sleep waits `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
