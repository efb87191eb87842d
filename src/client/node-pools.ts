/**
 * NodePools: the client's keep-alive connections, one undici Pool per node origin
 * ("http://host:port"), opened at its first request and all closed by `close`. Every request it
 * sends carries the client's bearer token when it has one.
 *
 * `close` is final: an exchange asked for after it rejects with CLIENT_CLOSED and opens nothing.
 * Work already running when the client is closed (a topology load asking the next node, a request
 * routed by a view such a load adopted, a retry) otherwise reopened a pool: a connection the
 * caller believed closed, which nothing would close again (it was made after the pools were).
 */
import type { Pool } from 'undici';
import { DistkvError } from '../errors.js';
import { undici, undiciLoaded } from '../util/lazy-undici.js';
import { describeTimeout, exchange, type Reply } from './exchange.js';
import type { TimeoutFacts } from './types.js';

/**
 * KEEP_ALIVE_MS is how long an idle connection is kept: under a node's idle limit (10 s,
 * src/http/http1-connection.ts), so the client closes it first. A write sent on a connection the
 * node is closing just then would be lost unanswered, and a write is not sent twice (sender.ts).
 */
const KEEP_ALIVE_MS = 4000;

/** PoolOptions configure one node's keep-alive pool. */
export interface PoolOptions {
  connections: number;
  timeoutMs: number;
  /** ca replaces the system's trusted CAs for https:// origins. */
  ca: string | Buffer | undefined;
  /** describeTimeout names `timeoutMs` in the errors of exchanges it ended (ClientOptions.describeTimeout). */
  describeTimeout?: ((timeout: TimeoutFacts) => string) | undefined;
}

/** NodePools holds one keep-alive pool per node origin. */
export class NodePools {
  private readonly pools = new Map<string, Pool>();
  private readonly options: PoolOptions;
  private readonly token: string;
  /** closed is set by close(): from then on no pool is opened and no request sent. */
  private closed = false;

  /** `token` is sent as a bearer token ("" = none). */
  constructor(options: PoolOptions, token: string) {
    this.options = options;
    this.token = token;
  }

  /** timeoutMs is the client's timeout of each exchange (0: none), named in its errors. */
  get timeoutMs(): number {
    return this.options.timeoutMs;
  }

  /** describeTimeout says what an exchange the client's timeout ended did not answer within (ClientOptions.describeTimeout). */
  get describeTimeout(): (timeout: TimeoutFacts) => string {
    return this.options.describeTimeout ?? describeTimeout;
  }

  /**
   * exchange performs one request at `origin` with the client's headers and `extra`; it rejects
   * with the signal's reason when aborted. A request the node answers only after `waitMs` (a write
   * waiting for replicas) is given that long on top of the client's timeout. After `close` it
   * rejects with CLIENT_CLOSED, nothing sent.
   */
  exchange(
    origin: string,
    method: string,
    path: string,
    body: Uint8Array | string | undefined,
    extra: Record<string, string>,
    signal: AbortSignal | undefined,
    waitMs = 0,
  ): Promise<Reply> {
    if (this.closed) return Promise.reject(closedError());
    const u = undiciLoaded();
    if (u === undefined)
      return undici().then(() => this.exchange(origin, method, path, body, extra, signal, waitMs));
    const auth = this.token === '' ? {} : { authorization: `Bearer ${this.token}` };
    // timeoutMs 0 is no timeout (undici's 0): a `w` write's wait alone would bound its answer.
    const timeoutMs = this.options.timeoutMs;
    const headersTimeout = waitMs > 0 && timeoutMs > 0 ? timeoutMs + waitMs : undefined;
    return exchange(
      this.pool(u.Pool, origin),
      method,
      path,
      body,
      { ...auth, ...extra },
      signal,
      headersTimeout,
    );
  }

  /** close ends every keep-alive connection (once the requests in flight are answered) and refuses every later exchange. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.pools.values()].map((p) => p.close()));
    this.pools.clear();
  }

  /** pool returns the keep-alive pool of `origin`, opening it first if needed. */
  private pool(PoolClass: typeof Pool, origin: string): Pool {
    let p = this.pools.get(origin);
    if (p === undefined) {
      const o = this.options;
      p = new PoolClass(origin, {
        connections: o.connections,
        keepAliveTimeout: KEEP_ALIVE_MS,
        headersTimeout: o.timeoutMs,
        bodyTimeout: o.timeoutMs,
        ...(o.ca === undefined ? {} : { connect: { ca: o.ca } }),
      });
      this.pools.set(origin, p);
    }
    return p;
  }
}

/** closedError is the refusal of a call or exchange made after the client's close(): nothing was sent. */
export function closedError(): DistkvError {
  return new DistkvError('CLIENT_CLOSED', 'this DistkvClient was closed; create a new one');
}

/** isClosedError reports whether `err` is that refusal. */
export function isClosedError(err: unknown): boolean {
  return err instanceof DistkvError && err.code === 'CLIENT_CLOSED';
}
