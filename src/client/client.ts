/**
 * DistkvClient: the TypeScript client library (docs/api.md).
 *
 * It loads the topology from `GET /cluster` (topology.ts), routes every key to its owner itself
 * with the same routing module as the server (`src/routing/`), and keeps one keep-alive connection
 * pool per node (node-pools.ts). Each request is seen through by sender.ts: redirects, retries
 * (writes only when never sent), reloads of a stale topology, writes held by a leader switch. Errors come back
 * as DistkvError with the server's stable code; an owner that cannot be reached is
 * SHARD_UNREACHABLE naming the shard, and a key whose owner is unreachable is routed once more
 * after a reload (the live map may have moved its leader, docs/failover.md). Values are bytes
 * (`Buffer`) everywhere; every call takes an AbortSignal and then rejects with the signal's reason,
 * without retrying.
 */
import { DistkvError, OutcomeUnknownError } from '../errors.js';
import type { ShardMap } from '../routing/shard-map.js';
import { slotOf, slotOfBytes } from '../routing/slot.js';
import { prefixQuery, scanAfterQuery } from '../util/bytes.js';
import { checkCallOptions, checkExpiryOptions } from './call-options.js';
import { checkOptions } from './client-options.js';
import { parseEndpoint } from './endpoint.js';
import { checkInput, type Key, keyPath, keyText, shardOfKey } from './key-bytes.js';
import { sendBatch } from './batch.js';
import { abortable, type Reply } from './exchange.js';
import { closedError, NodePools } from './node-pools.js';
import { checkRedirect } from './redirects.js';
import { Sender, STARTING_WAIT_MS, SWITCH_WAIT_MS } from './sender.js';
import { clusterDoc, statsDoc } from './node-docs.js';
import { checkToken } from '../util/bearer-token.js';
import { ClusterTopology } from './topology.js';
import { conditionsOf, decodeScanPage, unquote } from './wire-decode.js';
import { concernQuery } from './write-concern.js';
import { type WatchChange, type WatchOptions, type WatchSource, watchPrefix } from './watch.js';
import type {
  BatchOp,
  BatchResult,
  CallOptions,
  ClusterOptions,
  ClientOptions,
  ClientStats,
  ClusterView,
  DeleteOptions,
  GetOptions,
  NodeStats,
  PutOptions,
  PutResult,
  ScanItem,
  ScanOptions,
  ScanPage,
  ScanPageOptions,
  Versioned,
} from './types.js';

const DEFAULT_PAGE_SIZE = 1000;

type Settings = Required<Omit<ClientOptions, 'token' | 'ca' | 'onWait' | 'describeTimeout'>> & {
  token: string;
  ca: string | Buffer | undefined;
};

/** DistkvClient talks to a distkv cluster. */
export class DistkvClient {
  readonly stats: ClientStats = { requests: 0, redirects: 0, retries: 0, topologyLoads: 0 };
  private readonly o: Settings;
  private readonly pools: NodePools;
  private readonly topo: ClusterTopology;
  private readonly sender: Sender;
  private rr = 0;
  /** closed is set by close(): every call made after it is refused before anything is sent. */
  private closed = false;
  /** closeListeners end the watches running when close() is called (watch.ts). */
  private readonly closeListeners = new Set<() => void>();

  constructor(options: ClientOptions) {
    checkOptions(options);
    const origins = options.urls.map(parseEndpoint);
    checkToken(options.token ?? '');
    this.o = {
      replicaReads: false,
      timeoutMs: 10000,
      retries: 3,
      refusedWaitMs: 0,
      switchWaitMs: SWITCH_WAIT_MS,
      startingWaitMs: STARTING_WAIT_MS,
      connections: 16,
      token: '',
      ca: undefined,
      // An option given as undefined keeps its default (spread as it is, it replaced the default).
      ...(Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as ClientOptions),
    };
    const o = this.o;
    this.pools = new NodePools(
      {
        connections: o.connections,
        timeoutMs: o.timeoutMs,
        ca: o.ca,
        describeTimeout: options.describeTimeout,
      },
      o.token,
    );
    this.topo = new ClusterTopology(origins, o.urls, this.pools, this.stats, o.refusedWaitMs, options.onWait);
    this.sender = new Sender(this.pools, this.topo, this.stats, {
      retries: o.retries,
      refusedWaitMs: o.refusedWaitMs,
      switchWaitMs: o.switchWaitMs,
      startingWaitMs: o.startingWaitMs,
      onWait: options.onWait,
      replicaReads: o.replicaReads,
    });
  }

  /** version is the config hash the client routes with (undefined before the first load). */
  get version(): string | undefined {
    return this.topo.version;
  }

  /** liveMapVersion is the version of the live map the client routes with (0 before the first load). */
  get liveMapVersion(): number {
    return this.topo.liveMapVersion;
  }

  /** topology returns the routing table (shards, slot ranges, owners), loading it first if needed. */
  async topology(options: CallOptions = {}): Promise<ShardMap> {
    this.refuseIfClosed();
    checkCallOptions(options, 'call', 'topology');
    return this.loadedMap(options.signal);
  }

  /** loadedMap is topology() for the calls of this class, whose own options were checked. */
  private async loadedMap(signal: AbortSignal | undefined): Promise<ShardMap> {
    this.refuseIfClosed();
    if (this.topo.map === undefined) await abortable(this.reload(), signal);
    return this.topo.map!;
  }

  /** reload fetches /cluster from the first node that answers (one load at a time, shared by callers). */
  reload(): Promise<void> {
    return this.closed ? Promise.reject(closedError()) : this.topo.reload();
  }

  /**
   * reloadNewest asks every node it knows for /cluster at once and adopts the newest map vouched for
   * (topology.ts, loadNewest): a node cut off from its peers answers a reload with the map it had.
   */
  reloadNewest(): Promise<void> {
    return this.closed ? Promise.reject(closedError()) : this.topo.loadNewest();
  }

  /**
   * get returns the value of `key`, or undefined when it does not exist. Every key method takes the
   * key as text (sent as UTF-8) or as bytes, for a key that is not UTF-8 (key-bytes.ts). With `w`,
   * only once that many replicas hold what the leader had when it read the key (GetOptions).
   */
  async get(key: Key, options: GetOptions = {}): Promise<Buffer | undefined> {
    checkCallOptions(options, 'get', 'get');
    const { query, waitMs } = concernQuery(options);
    const r = await this.keyRequest('GET', key, undefined, query, options.signal, {}, waitMs);
    return r.status === 404 ? undefined : r.body;
  }

  /** getString returns the value of `key` decoded as UTF-8, or undefined when it does not exist. */
  async getString(key: string, options: GetOptions = {}): Promise<string | undefined> {
    return (await this.get(key, options))?.toString('utf8');
  }

  /** getVersioned returns the value of `key` with its version `E.S`, or undefined when it does not exist; `w` as for get. */
  async getVersioned(key: Key, options: GetOptions = {}): Promise<Versioned | undefined> {
    checkCallOptions(options, 'get', 'getVersioned');
    const { query, waitMs } = concernQuery(options);
    const r = await this.keyRequest('GET', key, undefined, query, options.signal, {}, waitMs);
    if (r.status === 404) return undefined;
    return { value: r.body, version: unquote(r.etag), ...(r.lag === undefined ? {} : { lag: r.lag }) };
  }

  /**
   * put stores `value` (a string is stored as UTF-8) and resolves with the write's seq; with `w`,
   * waits for that many replicas; with `ttlMs` or `expiresAtMs`, the key expires; with `ifMatch` / `ifNoneMatch`,
   * it writes only if the condition holds (PreconditionFailedError otherwise).
   */
  async put(key: Key, value: Uint8Array | string, options: PutOptions = {}): Promise<number> {
    return Number((await this.putRequest(key, value, options, 'put')).seq ?? 0);
  }

  /** putVersioned is put, resolving with the key's new version `E.S` (to pass as the next ifMatch). */
  async putVersioned(key: Key, value: Uint8Array | string, options: PutOptions = {}): Promise<string> {
    return unquote((await this.putRequest(key, value, options, 'putVersioned')).etag);
  }

  /** putResult is put, resolving with its seq, version and whether the node wrote it as a delete (an expiry already past, PutResult). */
  async putResult(key: Key, value: Uint8Array | string, options: PutOptions = {}): Promise<PutResult> {
    const r = await this.putRequest(key, value, options, 'putResult');
    return { seq: Number(r.seq ?? 0), version: unquote(r.etag), deleted: r.deleted === '1' };
  }

  /**
   * delete removes `key` and resolves with whether it existed (as a read of its leader saw it at
   * that instant). Deleting a missing key is not an error. A node that does not report it
   * (X-Distkv-Existed, older versions) gives true. Like every write, a delete whose answer was lost
   * is not sent again: it rejects with OutcomeUnknownError.
   */
  async delete(key: Key, options: DeleteOptions = {}): Promise<boolean> {
    checkCallOptions(options, 'delete', 'delete');
    const { query, waitMs } = concernQuery(options);
    const r = await this.keyRequest(
      'DELETE',
      key,
      undefined,
      query,
      options.signal,
      conditionsOf(options),
      waitMs,
    );
    return r.existed !== '0';
  }

  /**
   * scanPage returns one page of keys starting with `prefix`, in key order, and the next cursor.
   * It reads leaders only (`leader=1`: a node's replica of a shard may lack writes its leader
   * acknowledged), unless the client was made with `replicaReads`: then the items a replica
   * served carry its lag. A prefix that is not UTF-8 is given as bytes (a Uint8Array).
   */
  async scanPage(prefix: Key, options: ScanPageOptions = {}): Promise<ScanPage> {
    this.refuseIfClosed();
    checkCallOptions(options, 'scanPage', 'scanPage');
    checkInput(prefix, 'prefix');
    if (options.after !== undefined) checkInput(options.after, 'after');
    const map = await this.loadedMap(options.signal);
    const q = new URLSearchParams({
      ...prefixQuery(prefix),
      limit: String(options.limit ?? 100),
      encoding: 'base64',
      ...(this.o.replicaReads ? {} : { leader: '1' }),
      ...scanAfterQuery(options.after),
    });
    const node = map.shards[this.rr++ % map.shards.length]!.address;
    // After a failover the node may be a dead old leader, or not reach one: any leader serves a
    // scan, so the sender asks another of the newest map (sender.ts, `elsewhere`).
    const r = await this.sender.send('GET', node, `/kv?${q.toString()}`, {
      read: true,
      signal: options.signal,
      elsewhere: (from) => this.otherLeader(from),
    });
    return decodeScanPage(
      r.body,
      (item) => map.shardOfSlot(item.keyBytes === undefined ? slotOf(item.key) : slotOfBytes(item.keyBytes)),
      { node, ...(options.after === undefined ? {} : { after: options.after }) },
    );
  }

  /** scan iterates over every key starting with `prefix` (text or bytes) in key order, fetching pages as it goes. */
  async *scan(prefix: Key = '', options: ScanOptions = {}): AsyncGenerator<ScanItem, void, undefined> {
    checkCallOptions(options, 'scan', 'scan');
    let after = options.after;
    for (;;) {
      const page = await this.scanPage(prefix, {
        limit: options.pageSize ?? DEFAULT_PAGE_SIZE,
        ...(after === undefined ? {} : { after }),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
      yield* page.items;
      if (page.next === null) return;
      after = page.nextBytes ?? page.next;
    }
  }

  /**
   * batch applies set and delete operations and resolves with one result per operation, in order.
   * Operations are grouped by the leader of their key's shard, so each shard applies its own in
   * order; a failed operation is a result, not a rejection, an owner that cannot be reached too
   * (SHARD_UNREACHABLE; OutcomeUnknownError when its operations may have been applied): the
   * results of the others stand (batch.ts).
   */
  async batch(ops: readonly BatchOp[], options: CallOptions = {}): Promise<BatchResult[]> {
    this.refuseIfClosed();
    checkCallOptions(options, 'call', 'batch');
    return sendBatch(this.sender, await this.loadedMap(options.signal), ops, options.signal);
  }

  /**
   * watch yields the changes of the keys under `prefix` (bytes for a prefix that is not UTF-8;
   * src/client/watch.ts, docs/watch.md).
   */
  watch(
    prefix: string | Uint8Array,
    options: WatchOptions = {},
  ): AsyncGenerator<WatchChange, void, undefined> {
    const source: WatchSource = {
      topology: (signal) => this.loadedMap(signal),
      reload: () => this.reload(),
      scheme: this.topo.scheme,
      ca: this.o.ca,
      closed: () => this.closed,
      onClose: (listener) => {
        if (this.closed) {
          listener();
          return () => undefined;
        }
        this.closeListeners.add(listener);
        return () => this.closeListeners.delete(listener);
      },
      checkRedirect: (to, by, what) => checkRedirect(this.topo, to, by, what, undefined),
    };
    return watchPrefix(source, prefix, options);
  }

  /**
   * cluster returns the /cluster document of a node (as a url: "host:port" or with the client's
   * scheme, endpoint.ts nodeAuthority; by default the first that answers of the configured nodes,
   * then the other nodes of the map the client has: node-docs.ts).
   */
  async cluster(node?: string, options: ClusterOptions = {}): Promise<ClusterView> {
    this.refuseIfClosed();
    checkCallOptions(options, 'cluster', 'cluster');
    const wait = options.refusedWaitMs;
    if (wait !== undefined && !(typeof wait === 'number' && Number.isFinite(wait) && wait >= 0))
      throw new DistkvError(
        'INVALID_ARGUMENT',
        `cluster option refusedWaitMs must be a number of ms, 0 or more, got ${String(wait)}`,
      );
    return clusterDoc(this.sender, this.topo, this.o.timeoutMs, node, options);
  }

  /** nodeStats returns the /stats document of a node (as a url: "host:port" or with the client's scheme; the first url by default). */
  async nodeStats(node?: string, options: CallOptions = {}): Promise<NodeStats> {
    this.refuseIfClosed();
    checkCallOptions(options, 'call', 'nodeStats');
    return statsDoc(this.sender, this.topo, node, options);
  }

  /**
   * close ends every keep-alive connection; the client is unusable afterwards: every call made
   * after it rejects at once with CLIENT_CLOSED, nothing sent (without it, the call reopened a
   * pool the caller believed closed). A request already sent gets its answer; a call that would
   * send another after close() (a retry, a redirect, the request a topology load in flight was
   * for) rejects with CLIENT_CLOSED, and such a load asks no further node: nothing is opened
   * after close(). A running watch ends at once, its streams closed, its iterator throwing
   * CLIENT_CLOSED. Closing twice is harmless.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const end of this.closeListeners) end();
    this.closeListeners.clear();
    await this.pools.close();
  }

  /** refuseIfClosed throws CLIENT_CLOSED once close() was called (every call passes here first). */
  private refuseIfClosed(): void {
    if (this.closed) throw closedError();
  }

  private putRequest(
    key: Key,
    value: Uint8Array | string,
    options: PutOptions,
    name: string,
  ): Promise<Reply> {
    checkCallOptions(options, 'put', name);
    checkExpiryOptions(options, name);
    const expiry: [string, string][] = [];
    if (options.ttlMs !== undefined) expiry.push(['ttl_ms', String(options.ttlMs)]);
    if (options.expiresAtMs !== undefined) expiry.push(['expires_at_ms', String(options.expiresAtMs)]);
    const { query, waitMs } = concernQuery(options, expiry);
    checkInput(value, 'value');
    const body = typeof value === 'string' ? Buffer.from(value) : value;
    return this.keyRequest('PUT', key, body, query, options.signal, conditionsOf(options), waitMs);
  }

  private async keyRequest(
    method: 'GET' | 'PUT' | 'DELETE',
    key: Key,
    body: Uint8Array | undefined,
    query: string,
    signal: AbortSignal | undefined,
    conditions: Record<string, string> = {},
    waitMs = 0,
  ): Promise<Reply> {
    // encodeURIComponent would throw a bare URIError for it; the server's error, before sending.
    this.refuseIfClosed();
    checkInput(key, 'key');
    const map = await this.loadedMap(signal);
    const shard = map.shard(shardOfKey(map, key));
    const read = method === 'GET';
    // A read with a query has a read concern (`w`): the leader answers it.
    const node =
      read && query === '' && this.o.replicaReads && shard.replicas.length > 0
        ? shard.replicas[this.rr++ % shard.replicas.length]!
        : shard.address;
    const path = `/kv/${keyPath(key)}${query}`;
    try {
      return await this.sender.send(method, node, path, { body, read, signal, shard, conditions, waitMs });
    } catch (err) {
      // A write that reached the old leader may have been applied there, and be on the new leader:
      // sent again, it could undo another client's later write (or, conditional, fail against
      // itself, and a compare-and-set loop would then apply its change twice). Its outcome is the
      // caller's to find out.
      if (err instanceof OutcomeUnknownError)
        throw new OutcomeUnknownError(
          `${err.message}: read ${keyText(key)} (its version) before writing it again`,
          { cause: err.cause },
        );
      // The owner may have failed over: route once more if the cluster now names another leader.
      // A write comes here only when nothing reached the owner: this client never connected
      // (sender.ts), or a node relaying it never did (proxy.ts; one that may have reached the
      // owner is OUTCOME_UNKNOWN, an OutcomeUnknownError above).
      if (!(err instanceof DistkvError) || err.code !== 'SHARD_UNREACHABLE' || signal?.aborted === true)
        throw err;
      // Whether the map names another leader, not whether its version changed: the client may have
      // learned the new map while this request was on its way (another node's answer told it), and
      // a stopping leader's last connections close after that (a graceful stop with etcd).
      await this.reload().catch(() => undefined);
      const moved = this.topo.map?.shard(shard.idx);
      if (moved === undefined || moved.address === node) throw err;
      return this.sender.send(method, moved.address, path, {
        body,
        read,
        signal,
        shard: moved,
        conditions,
        waitMs,
      });
    }
  }

  /** otherLeader is a leader of the client's map other than `from`, in turn (`from` when it leads every shard). */
  private otherLeader(from: string): string {
    const others = [...new Set(this.topo.map?.shards.map((s) => s.address))].filter((a) => a !== from);
    return others.length === 0 ? from : others[this.rr++ % others.length]!;
  }
}
