/**
 * DistkvClient: the TypeScript client library (docs/api.md).
 *
 * It loads the topology from `GET /cluster` (the single source of truth: shards, slot ranges,
 * leader and replica addresses, a config hash), routes every key to its owner itself with the same
 * routing module as the server (`src/routing/`), and keeps one keep-alive connection pool per node
 * (exchange.ts). A 307/308 means its topology is stale: it follows the Location (re-sending a
 * buffered body) and reloads `/cluster` in the background. Idempotent requests (GET, PUT, DELETE of
 * one key) are retried on connection errors with capped exponential backoff. Errors come back as
 * DistkvError with the server's stable code; an owner that cannot be reached is SHARD_UNREACHABLE
 * naming the shard. Values are bytes (`Buffer`) everywhere; every call takes an AbortSignal and then
 * rejects with the signal's reason, without retrying. The live map (docs/failover.md) moves leaders: a response whose
 * `X-Distkv-Map` version is above the client's makes it reload `/cluster`, a write held during a
 * leader switch (503 SWITCHING_LEADER, not executed) is sent again after a short wait, up to
 * SWITCH_WAIT_MS, and a key whose owner is unreachable is routed once more after a reload.
 */
import type { Pool } from 'undici';
import { DistkvError } from '../errors.js';
import { ShardMap, type ShardInfo } from '../routing/shard-map.js';
import { parseEndpoint } from './endpoint.js';
import { batchResult, chunks, conditional, type WireResult, wireOp } from './batch-wire.js';
import { abortable, exchange, newPool, type Reply, sleep } from './exchange.js';
import { conditionsOf, decodeScanPage, errorOf, unquote } from './wire-decode.js';
import { type WatchChange, type WatchOptions, type WatchSource, watchPrefix } from './watch.js';
import type {
  BatchOp,
  BatchResult,
  CallOptions,
  ClientOptions,
  ClientStats,
  ClusterView,
  DeleteOptions,
  NodeStats,
  PutOptions,
  ScanItem,
  ScanOptions,
  ScanPage,
  ScanPageOptions,
  Versioned,
} from './types.js';

const MAX_REDIRECTS = 5;
/** SWITCH_WAIT_MS bounds how long a request held by a leader switch is retried. */
const SWITCH_WAIT_MS = 15000;
const SWITCH_RETRY_MS = 100;
/** NEWEST_LOOK_MS is how long a write held for a leader switch waits before asking every node for a newer map. */
const NEWEST_LOOK_MS = 1000;
const DEFAULT_PAGE_SIZE = 1000;

type Settings = Required<Omit<ClientOptions, 'token' | 'ca'>> & {
  token: string;
  ca: string | Buffer | undefined;
};

/** DistkvClient talks to a distkv cluster. */
export class DistkvClient {
  readonly stats: ClientStats = { requests: 0, redirects: 0, retries: 0, topologyLoads: 0 };
  private readonly o: Settings;
  /** origins are the parsed `urls` ("http://host:port"). */
  private readonly origins: string[];
  private readonly pools = new Map<string, Pool>();
  private map: ShardMap | undefined;
  private configHash: string | undefined;
  private mapVersion = 0;
  private reloading: Promise<void> | undefined;
  private scheme: string;
  private rr = 0;

  constructor(options: ClientOptions) {
    if (options.urls.length === 0)
      throw new DistkvError('INVALID_ARGUMENT', 'DistkvClient needs at least one url');
    this.origins = options.urls.map(parseEndpoint);
    this.scheme = new URL(this.origins[0]!).protocol.replace(':', '');
    this.o = {
      replicaReads: false,
      timeoutMs: 10000,
      retries: 3,
      connections: 16,
      token: '',
      ca: undefined,
      ...options,
    };
  }

  /** version is the config hash the client routes with (undefined before the first load). */
  get version(): string | undefined {
    return this.configHash;
  }

  /** liveMapVersion is the version of the live map the client routes with (0 before the first load). */
  get liveMapVersion(): number {
    return this.mapVersion;
  }

  /** topology returns the routing table (shards, slot ranges, owners), loading it first if needed. */
  async topology(options: CallOptions = {}): Promise<ShardMap> {
    if (this.map === undefined) await abortable(this.reload(), options.signal);
    return this.map!;
  }

  /** reload fetches /cluster from the first node that answers (one load at a time, shared by callers). */
  reload(): Promise<void> {
    this.reloading ??= this.load().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  /** get returns the value of `key`, or undefined when it does not exist. */
  async get(key: string, options: CallOptions = {}): Promise<Buffer | undefined> {
    const r = await this.keyRequest('GET', key, undefined, '', options.signal);
    return r.status === 404 ? undefined : r.body;
  }

  /** getString returns the value of `key` decoded as UTF-8, or undefined when it does not exist. */
  async getString(key: string, options: CallOptions = {}): Promise<string | undefined> {
    return (await this.get(key, options))?.toString('utf8');
  }

  /** getVersioned returns the value of `key` with its version `E.S`, or undefined when it does not exist. */
  async getVersioned(key: string, options: CallOptions = {}): Promise<Versioned | undefined> {
    const r = await this.keyRequest('GET', key, undefined, '', options.signal);
    return r.status === 404 ? undefined : { value: r.body, version: unquote(r.etag) };
  }

  /**
   * put stores `value` (a string is stored as UTF-8) and resolves with the write's seq; with `w`,
   * waits for that many replicas; with `ttlMs`, the key expires; with `ifMatch` / `ifNoneMatch`,
   * it writes only if the condition holds (PreconditionFailedError otherwise).
   */
  async put(key: string, value: Uint8Array | string, options: PutOptions = {}): Promise<number> {
    return Number((await this.putRequest(key, value, options)).seq ?? 0);
  }

  /** putVersioned is put, resolving with the key's new version `E.S` (to pass as the next ifMatch). */
  async putVersioned(key: string, value: Uint8Array | string, options: PutOptions = {}): Promise<string> {
    return unquote((await this.putRequest(key, value, options)).etag);
  }

  /**
   * delete removes `key` and resolves with whether it existed (as a read of its leader saw it at
   * that instant). Deleting a missing key is not an error. A node that does not report it
   * (X-Distkv-Existed, older versions) gives true.
   */
  async delete(key: string, options: DeleteOptions = {}): Promise<boolean> {
    const r = await this.keyRequest('DELETE', key, undefined, '', options.signal, conditionsOf(options));
    return r.existed !== '0';
  }

  /** scanPage returns one page of keys starting with `prefix`, in key order, and the next cursor. */
  async scanPage(prefix: string, options: ScanPageOptions = {}): Promise<ScanPage> {
    const map = await this.topology(options);
    const q = new URLSearchParams({
      prefix,
      limit: String(options.limit ?? 100),
      encoding: 'base64',
      ...(options.after === undefined ? {} : { after: options.after }),
    });
    const node = map.shards[this.rr++ % map.shards.length]!.address;
    const r = await this.send('GET', node, `/kv?${q.toString()}`, undefined, true, options.signal);
    return decodeScanPage(r.body);
  }

  /** scan iterates over every key starting with `prefix` in key order, fetching pages as it goes. */
  async *scan(prefix = '', options: ScanOptions = {}): AsyncGenerator<ScanItem, void, undefined> {
    let after = options.after;
    for (;;) {
      const page = await this.scanPage(prefix, {
        limit: options.pageSize ?? DEFAULT_PAGE_SIZE,
        ...(after === undefined ? {} : { after }),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
      yield* page.items;
      if (page.next === null) return;
      after = page.next;
    }
  }

  /**
   * batch applies set and delete operations and resolves with one result per operation, in order.
   * Operations are grouped by the leader of their key's shard, so each shard applies its own in
   * order; a failed operation is a result, not a rejection.
   */
  async batch(ops: readonly BatchOp[], options: CallOptions = {}): Promise<BatchResult[]> {
    const map = await this.topology(options);
    const shards = new Set(ops.map((op) => map.shardOf(op.key)));
    if (conditional(ops) && shards.size > 1)
      throw new DistkvError(
        'INVALID_ARGUMENT',
        `a batch with conditions must keep all its keys in one shard; its keys are in shards ${[...shards].sort((a, b) => a - b).join(', ')} (use a {hash tag})`,
      );
    const byOwner = new Map<string, number[]>();
    ops.forEach((op, i) => {
      const owner = map.shard(map.shardOf(op.key)).address;
      byOwner.set(owner, [...(byOwner.get(owner) ?? []), i]);
    });
    const results = new Array<BatchResult>(ops.length);
    await Promise.all(
      [...byOwner].map(async ([owner, indexes]) => {
        // One owner's chunks go one after another, so its shards apply their operations in order.
        for (const chunk of chunks(indexes, ops)) {
          const wire = chunk.map((i) => wireOp(ops[i]!));
          const r = await this.send('POST', owner, '/kv/_batch', JSON.stringify(wire), false, options.signal);
          const doc = JSON.parse(r.body.toString('utf8')) as { results: WireResult[] };
          chunk.forEach((i, k) => {
            results[i] = batchResult(doc.results[k], owner, i);
          });
        }
      }),
    );
    return results;
  }

  /** watch yields the changes of the keys under `prefix` (src/client/watch.ts, docs/watch.md). */
  watch(prefix: string, options: WatchOptions = {}): AsyncGenerator<WatchChange, void, undefined> {
    const source: WatchSource = {
      topology: (signal) => this.topology(signal === undefined ? {} : { signal }),
      reload: () => this.reload(),
      scheme: this.scheme,
      ca: this.o.ca,
    };
    return watchPrefix(source, prefix, options);
  }

  /** cluster returns the /cluster document of a node ("host:port"; the first url by default). */
  async cluster(node?: string, options: CallOptions = {}): Promise<ClusterView> {
    const r = await this.send('GET', node ?? this.firstNode(), '/cluster', undefined, true, options.signal);
    return JSON.parse(r.body.toString('utf8')) as ClusterView;
  }

  /** nodeStats returns the /stats document of a node ("host:port"; the first url by default). */
  async nodeStats(node?: string, options: CallOptions = {}): Promise<NodeStats> {
    const r = await this.send('GET', node ?? this.firstNode(), '/stats', undefined, true, options.signal);
    return JSON.parse(r.body.toString('utf8')) as NodeStats;
  }

  /** close ends every keep-alive connection; the client is unusable afterwards. */
  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close()));
    this.pools.clear();
  }

  private putRequest(key: string, value: Uint8Array | string, options: PutOptions): Promise<Reply> {
    const params = new URLSearchParams();
    if (options.w !== undefined) params.set('w', String(options.w));
    if (options.w !== undefined && options.timeoutMs !== undefined)
      params.set('timeout_ms', String(options.timeoutMs));
    if (options.ttlMs !== undefined) params.set('ttl_ms', String(options.ttlMs));
    const q = params.size === 0 ? '' : `?${params.toString()}`;
    const body = typeof value === 'string' ? Buffer.from(value) : value;
    return this.keyRequest('PUT', key, body, q, options.signal, conditionsOf(options));
  }

  private async keyRequest(
    method: 'GET' | 'PUT' | 'DELETE',
    key: string,
    body: Uint8Array | undefined,
    query: string,
    signal: AbortSignal | undefined,
    conditions: Record<string, string> = {},
  ): Promise<Reply> {
    const map = await this.topology(signal === undefined ? {} : { signal });
    const shard = map.shard(map.shardOf(key));
    const node =
      method === 'GET' && this.o.replicaReads && shard.replicas.length > 0
        ? shard.replicas[this.rr++ % shard.replicas.length]!
        : shard.address;
    const path = `/kv/${encodeURIComponent(key)}${query}`;
    // A conditional write is not retried: a retry after a lost answer would fail against its own write.
    const idempotent = Object.keys(conditions).length === 0;
    try {
      return await this.send(method, node, path, body, idempotent, signal, shard, conditions);
    } catch (err) {
      // The owner may have failed over: route once more if the cluster now names another leader.
      if (!(err instanceof DistkvError) || err.code !== 'SHARD_UNREACHABLE' || signal?.aborted === true)
        throw err;
      const before = this.mapVersion;
      await this.reload().catch(() => undefined);
      if (this.mapVersion === before || this.map === undefined) throw err;
      const moved = this.map.shard(shard.idx);
      return this.send(method, moved.address, path, body, idempotent, signal, moved, conditions);
    }
  }

  /** send performs a request at `node`, following redirects and retrying connection errors when `idempotent`. */
  private async send(
    method: string,
    node: string,
    path: string,
    body: Uint8Array | string | undefined,
    idempotent: boolean,
    signal: AbortSignal | undefined,
    shard?: ShardInfo,
    conditions: Record<string, string> = {},
  ): Promise<Reply> {
    let origin = `${this.scheme}://${node}`;
    let target = path;
    const switchDeadline = performance.now() + SWITCH_WAIT_MS;
    let nextLook = performance.now() + NEWEST_LOOK_MS;
    for (let attempt = 0, redirects = 0; ;) {
      signal?.throwIfAborted();
      this.stats.requests++;
      let res: Reply;
      try {
        res = await exchange(
          this.pool(origin),
          method,
          target,
          body,
          { ...this.headers(), ...conditions },
          signal,
        );
      } catch (err) {
        if (signal?.aborted === true) throw err;
        if (idempotent && attempt < this.o.retries) {
          this.stats.retries++;
          await sleep(Math.min(1000, 50 * 2 ** attempt), signal);
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
        await sleep(SWITCH_RETRY_MS, signal);
        // The switch may be over elsewhere while this node cannot learn it (cut off from the
        // coordinator): look for a newer map now and then, and follow the shard's new leader.
        if (shard !== undefined && performance.now() >= nextLook) {
          nextLook = performance.now() + NEWEST_LOOK_MS;
          await abortable(this.loadNewest(), signal).catch(() => undefined);
          const now = this.map?.shard(shard.idx).address;
          if (now !== undefined && `${this.scheme}://${now}` !== origin) {
            origin = `${this.scheme}://${now}`;
            target = path;
          }
        }
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
          await abortable(this.reload(), signal);
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

  private headers(): Record<string, string> {
    return this.o.token === '' ? {} : { authorization: `Bearer ${this.o.token}` };
  }

  /** pool returns the keep-alive pool of `origin`. */
  private pool(origin: string): Pool {
    let p = this.pools.get(origin);
    if (p === undefined) {
      p = newPool(origin, { connections: this.o.connections, timeoutMs: this.o.timeoutMs, ca: this.o.ca });
      this.pools.set(origin, p);
    }
    return p;
  }

  private async load(): Promise<void> {
    let last: unknown;
    for (const origin of this.origins) {
      try {
        this.adopt(origin, await this.fetchView(origin));
        return;
      } catch (err) {
        last = err;
      }
    }
    throw new DistkvError(
      'SHARD_UNREACHABLE',
      `no node answered /cluster (${this.o.urls.join(', ')}): ${(last as Error).message}`,
      { cause: last },
    );
  }

  /**
   * loadNewest asks every configured node and every node of the current map at once and adopts the
   * view with the highest map version: a leader cut off from the coordinator keeps answering with
   * the map it had, so the first node to answer is not enough while a write is held for a switch.
   */
  private async loadNewest(): Promise<void> {
    const members = this.map?.shards.flatMap((s) => [s.address, ...s.replicas]) ?? [];
    const candidates = [...new Set([...this.origins, ...members.map((a) => `${this.scheme}://${a}`)])];
    const views = await Promise.allSettled(
      candidates.map(async (o) => ({ o, doc: await this.fetchView(o) })),
    );
    let best: { o: string; doc: ClusterView } | undefined;
    for (const v of views)
      if (v.status === 'fulfilled' && (v.value.doc.map_version ?? 0) > (best?.doc.map_version ?? -1))
        best = v.value;
    if (best !== undefined && (best.doc.map_version ?? 0) > this.mapVersion) this.adopt(best.o, best.doc);
  }

  private async fetchView(origin: string): Promise<ClusterView> {
    const res = await exchange(this.pool(origin), 'GET', '/cluster', undefined, this.headers(), undefined);
    if (res.status !== 200) throw errorOf(res.status, res.body);
    return JSON.parse(res.body.toString('utf8')) as ClusterView;
  }

  private adopt(origin: string, doc: ClusterView): void {
    this.map = new ShardMap(
      doc.shards.map((s) => ({
        name: s.name,
        idx: s.idx,
        address: s.leader.address,
        replicas: s.replicas.map((r) => r.address),
        slots: { first: s.slots[0], last: s.slots[1] },
      })),
    );
    this.scheme = new URL(origin).protocol.replace(':', '');
    this.stats.topologyLoads++;
    // The leaders follow the live map, so `version` (the config hash) is not a hash of these addresses.
    this.configHash = doc.version;
    this.mapVersion = doc.map_version ?? 0;
  }

  private firstNode(): string {
    return new URL(this.origins[0]!).host;
  }
}

function isSwitching(body: Buffer): boolean {
  return errorOf(503, body).code === 'SWITCHING_LEADER';
}
