/**
 * DistkvClient: the TypeScript client library (design section 7).
 *
 * It loads the topology from `GET /cluster` (the single source of truth: shards, slot ranges,
 * leader and replica addresses, a config hash), routes every key to its owner itself with the same
 * routing module as the server (`src/routing/`), and keeps one keep-alive connection pool per node
 * (an undici Pool driven through `dispatch`, which costs half the CPU of `request()`). A 307/308 means its topology is stale: it follows the Location (re-sending a buffered
 * body) and reloads `/cluster` in the background. Idempotent requests (GET, PUT, DELETE of one key)
 * are retried on connection errors with capped exponential backoff. Errors come back as
 * DistkvError with the server's stable code; an owner that cannot be reached is SHARD_UNREACHABLE
 * naming the shard. The live map (docs/failover.md) moves leaders: a response whose `X-Distkv-Map`
 * version is above the client's makes it reload `/cluster`, and a write held during a leader switch
 * (503 SWITCHING_LEADER, not executed) is sent again after a short wait, up to SWITCH_WAIT_MS.
 */
import { type Dispatcher, Pool } from 'undici';
import { DistkvError, codeForStatus, isErrorCode } from '../errors.js';
import { ShardMap, type ShardInfo } from '../routing/shard-map.js';

/** ClientOptions configure a DistkvClient. */
export interface ClientOptions {
  /** urls are one or more nodes to load the topology from ("http://127.0.0.1:8080"). */
  urls: string[];
  /** token is sent as a bearer token (needed only for internal endpoints). */
  token?: string;
  /** replicaReads sends reads to a replica of the key's shard (eventually consistent) when it has one. */
  replicaReads?: boolean;
  /** timeoutMs bounds each request (default 10000). */
  timeoutMs?: number;
  /** retries is how many times an idempotent request is retried on a connection error (default 3). */
  retries?: number;
  /** connections per node (default 16). */
  connections?: number;
}

/** ClientStats count what the client did (tests and benchmarks read them). */
export interface ClientStats {
  requests: number;
  redirects: number;
  retries: number;
  topologyLoads: number;
}

interface ClusterDoc {
  version: string;
  map_version?: number;
  shards: {
    idx: number;
    name: string;
    slots: [number, number];
    leader: { address: string };
    replicas: { address: string }[];
  }[];
}

const MAX_REDIRECTS = 5;
/** SWITCH_WAIT_MS bounds how long a request held by a leader switch is retried. */
const SWITCH_WAIT_MS = 15000;
const SWITCH_RETRY_MS = 100;
const EMPTY = Buffer.alloc(0);

/** Reply is one HTTP exchange as the client sees it. */
interface Reply {
  status: number;
  body: Buffer;
  location: string | undefined;
  config: string | undefined;
  map: number | undefined;
  seq: string | undefined;
}

/** DistkvClient talks to a distkv cluster. */
export class DistkvClient {
  readonly stats: ClientStats = { requests: 0, redirects: 0, retries: 0, topologyLoads: 0 };
  private readonly o: Required<Omit<ClientOptions, 'token'>> & { token: string };
  private readonly pools = new Map<string, Pool>();
  private map: ShardMap | undefined;
  private configHash: string | undefined;
  private mapVersion = 0;
  private reloading: Promise<void> | undefined;
  private scheme = 'http';
  private rr = 0;

  constructor(options: ClientOptions) {
    if (options.urls.length === 0)
      throw new DistkvError('INVALID_ARGUMENT', 'DistkvClient needs at least one url');
    this.o = { replicaReads: false, timeoutMs: 10000, retries: 3, connections: 16, token: '', ...options };
  }

  /** version is the config hash the client routes with (undefined before the first load). */
  get version(): string | undefined {
    return this.configHash;
  }

  /** liveMapVersion is the version of the live map the client routes with (0 before the first load). */
  get liveMapVersion(): number {
    return this.mapVersion;
  }

  /** topology returns the routing table, loading it first if needed. */
  async topology(): Promise<ShardMap> {
    if (this.map === undefined) await this.reload();
    return this.map!;
  }

  /** reload fetches /cluster from the first node that answers. */
  reload(): Promise<void> {
    this.reloading ??= this.load().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  /** get returns the value of `key`, or undefined when it does not exist. */
  async get(key: string): Promise<Buffer | undefined> {
    const r = await this.keyRequest('GET', key, undefined, '');
    if (r.status === 404) return undefined;
    return r.body;
  }

  /** put stores `value`; with `w`, waits for that many replicas (REPLICATION_TIMEOUT after timeoutMs). Resolves with the write's seq. */
  async put(
    key: string,
    value: Uint8Array | string,
    options: { w?: number; timeoutMs?: number } = {},
  ): Promise<number> {
    const q =
      options.w === undefined
        ? ''
        : `?w=${options.w}${options.timeoutMs === undefined ? '' : `&timeout_ms=${options.timeoutMs}`}`;
    const r = await this.keyRequest('PUT', key, typeof value === 'string' ? Buffer.from(value) : value, q);
    return Number(r.seq ?? 0);
  }

  /** delete removes `key` (not an error when it does not exist). */
  async delete(key: string): Promise<void> {
    await this.keyRequest('DELETE', key, undefined, '');
  }

  /** scan returns a page of keys with `prefix` after `after`, in key order, and the next cursor. */
  async scan(
    prefix: string,
    options: { limit?: number; after?: string } = {},
  ): Promise<{ items: { key: string; value: string }[]; next: string | null }> {
    const map = await this.topology();
    const q = new URLSearchParams({
      prefix,
      limit: String(options.limit ?? 100),
      ...(options.after === undefined ? {} : { after: options.after }),
    });
    const node = map.shards[this.rr++ % map.shards.length]!.address;
    const r = await this.send('GET', node, `/kv?${q.toString()}`, undefined, true);
    return JSON.parse(r.body.toString('utf8')) as {
      items: { key: string; value: string }[];
      next: string | null;
    };
  }

  /** cluster returns the /cluster document of a node (the first url by default). */
  async cluster(node?: string): Promise<unknown> {
    const r = await this.send('GET', node ?? this.nodeOfUrl(this.o.urls[0]!), '/cluster', undefined, true);
    return JSON.parse(r.body.toString('utf8'));
  }

  /** nodeStats returns the /stats document of a node. */
  async nodeStats(node?: string): Promise<unknown> {
    const r = await this.send('GET', node ?? this.nodeOfUrl(this.o.urls[0]!), '/stats', undefined, true);
    return JSON.parse(r.body.toString('utf8'));
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close()));
    this.pools.clear();
  }

  private async keyRequest(
    method: 'GET' | 'PUT' | 'DELETE',
    key: string,
    body: Uint8Array | undefined,
    query: string,
  ): Promise<Reply> {
    const map = await this.topology();
    const shard = map.shard(map.shardOf(key));
    const node =
      method === 'GET' && this.o.replicaReads && shard.replicas.length > 0
        ? shard.replicas[this.rr++ % shard.replicas.length]!
        : shard.address;
    const path = `/kv/${encodeURIComponent(key)}${query}`;
    try {
      return await this.send(method, node, path, body, true, shard);
    } catch (err) {
      // The owner may have failed over: route once more if the cluster now names another leader.
      if (!(err instanceof DistkvError) || err.code !== 'SHARD_UNREACHABLE') throw err;
      const before = this.mapVersion;
      await this.reload().catch(() => undefined);
      if (this.mapVersion === before || this.map === undefined) throw err;
      const moved = this.map.shard(shard.idx);
      return this.send(method, moved.address, path, body, true, moved);
    }
  }

  /** send performs a request at `node`, following redirects and retrying connection errors when `idempotent`. */
  private async send(
    method: string,
    node: string,
    path: string,
    body: Uint8Array | undefined,
    idempotent: boolean,
    shard?: ShardInfo,
  ): Promise<Reply> {
    let origin = `${this.scheme}://${node}`;
    let target = path;
    const switchDeadline = performance.now() + SWITCH_WAIT_MS;
    for (let attempt = 0, redirects = 0; ;) {
      this.stats.requests++;
      let res: Reply;
      try {
        res = await this.dispatch(origin, method, target, body);
      } catch (err) {
        if (idempotent && attempt < this.o.retries) {
          this.stats.retries++;
          await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** attempt)));
          attempt++;
          continue;
        }
        const what =
          shard === undefined ? `node ${origin}` : `shard ${shard.idx} (${shard.name}) at ${origin}`;
        throw new DistkvError('SHARD_UNREACHABLE', `${what} is unreachable: ${(err as Error).message}`, {
          cause: err,
        });
      }
      if (res.map !== undefined && res.map > this.mapVersion) void this.reload().catch(() => undefined);
      if (res.status === 503 && idempotent && performance.now() < switchDeadline && isSwitching(res.body)) {
        this.stats.retries++;
        await new Promise((r) => setTimeout(r, SWITCH_RETRY_MS));
        continue;
      }
      if (res.status === 307 || res.status === 308) {
        const location = res.location;
        if (location === undefined || ++redirects > MAX_REDIRECTS)
          throw new DistkvError('INTERNAL', `too many redirects for ${method} ${path}`);
        this.stats.redirects++;
        const theirs = res.config;
        if (theirs !== undefined && theirs !== this.version) {
          // Our topology is stale, or the nodes disagree: reload, and refuse to go on if they disagree.
          await this.reload();
          if (theirs !== this.version)
            throw new DistkvError(
              'CONFIG_MISMATCH',
              `${origin} routes with config ${theirs} but ${this.o.urls.join(', ')} serves ${String(this.version)}: give every node the same sharding.toml`,
            );
        } else void this.reload().catch(() => undefined);
        const u = new URL(location);
        origin = u.origin;
        target = `${u.pathname}${u.search}`;
        continue;
      }
      if (res.status >= 400 && !(res.status === 404 && method === 'GET' && target.startsWith('/kv/')))
        throw errorOf(res.status, res.body);
      return res;
    }
  }

  /** pool returns the keep-alive pool of `origin`. */
  private pool(origin: string): Pool {
    let p = this.pools.get(origin);
    if (p === undefined) {
      p = new Pool(origin, {
        connections: this.o.connections,
        keepAliveTimeout: 30000,
        headersTimeout: this.o.timeoutMs,
        bodyTimeout: this.o.timeoutMs,
      });
      this.pools.set(origin, p);
    }
    return p;
  }

  /** dispatch performs one HTTP exchange and collects the status, the headers the client reads, and the body. */
  private dispatch(
    origin: string,
    method: string,
    path: string,
    body: Uint8Array | undefined,
  ): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const reply: Reply = {
        status: 0,
        body: EMPTY,
        location: undefined,
        config: undefined,
        map: undefined,
        seq: undefined,
      };
      const chunks: Buffer[] = [];
      const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
      const handler: Dispatcher.DispatchHandler = {
        // undici treats a handler as the current API only when it has onRequestStart.
        onRequestStart: () => undefined,
        onResponseStart: (_controller, status, headers) => {
          reply.status = status;
          reply.location = one(headers.location);
          reply.config = one(headers['x-distkv-config']);
          const map = one(headers['x-distkv-map']);
          reply.map = map === undefined ? undefined : Number(map);
          reply.seq = one(headers['x-distkv-seq']);
        },
        onResponseData: (_controller, chunk) => {
          chunks.push(chunk);
        },
        onResponseEnd: () => {
          reply.body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
          resolve(reply);
        },
        onResponseError: (_controller, err) => {
          reject(err);
        },
      };
      this.pool(origin).dispatch(
        {
          path,
          method,
          ...(body === undefined ? {} : { body }),
          headers: this.o.token === '' ? {} : { authorization: `Bearer ${this.o.token}` },
        },
        handler,
      );
    });
  }

  private async load(): Promise<void> {
    let last: unknown;
    for (const url of this.o.urls) {
      try {
        const u = new URL(url);
        const res = await this.dispatch(u.origin, 'GET', '/cluster', undefined);
        const doc = JSON.parse(res.body.toString('utf8')) as ClusterDoc;
        this.scheme = u.protocol.replace(':', '');
        this.map = new ShardMap(
          doc.shards.map((s) => ({
            name: s.name,
            idx: s.idx,
            address: s.leader.address,
            replicas: s.replicas.map((r) => r.address),
            slots: { first: s.slots[0], last: s.slots[1] },
          })),
        );
        this.stats.topologyLoads++;
        this.configHash = doc.version;
        this.mapVersion = doc.map_version ?? 0;
        return;
      } catch (err) {
        last = err;
      }
    }
    throw new DistkvError(
      'SHARD_UNREACHABLE',
      `no node answered /cluster (${this.o.urls.join(', ')}): ${(last as Error).message}`,
    );
  }

  private nodeOfUrl(url: string): string {
    return new URL(url).host;
  }
}

function isSwitching(body: Buffer): boolean {
  return errorOf(503, body).code === 'SWITCHING_LEADER';
}

/** errorOf rebuilds a DistkvError from an error response (JSON catalogue body, or the seed's text). */
export function errorOf(status: number, body: Buffer): DistkvError {
  try {
    const e = (JSON.parse(body.toString('utf8')) as { error?: { code?: unknown; message?: unknown } }).error;
    if (e !== undefined && isErrorCode(e.code) && typeof e.message === 'string')
      return new DistkvError(e.code, e.message);
  } catch {
    // not JSON
  }
  return new DistkvError(codeForStatus(status), body.toString('utf8').trim() || `HTTP ${status}`);
}
