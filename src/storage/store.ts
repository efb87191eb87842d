/**
 * The Store seam: what a shard worker needs from one shard's storage, whatever the engine.
 *
 * Implementations: `MemoryStore` (the in-memory twin, for tests), `LmdbStore` (LMDB only),
 * `LsmStore` (the default engine). Every implementation passes the shared conformance suite in
 * test/unit/store-conformance.ts. A store that replicates also offers `replication`
 * (store-replication.ts, with its own conformance suite).
 *
 * Invariants every implementation keeps:
 *  - keys are byte strings (UTF-8 of the user's key) ordered by bytes; values are bytes;
 *  - every write gets the next per-store sequence number (`seq`, starting at 1); a key's version is
 *    the seq of its last write (src/routing/version.ts adds the epoch), and reads report it;
 *  - a value put with an expiry is invisible to reads from the instant the store's clock reaches
 *    it, whether or not an expire record has been written yet;
 *  - the promise of a write resolves only once the write is durable as the durability mode says
 *    (after fsync in "fsync" mode) and rejects, never resolves, when it could not be made durable;
 *  - a read sees every write whose promise has resolved and may see writes still in flight.
 */
import type { Durability } from '../config/schema.js';
import type { DistkvError } from '../errors.js';
import type { HistogramSnapshot } from '../util/latency-histogram.js';
import type { StoreReplication } from './store-replication.js';

/** StoreValue is a live key's value, the seq of its last write and its expiry (Unix ms, 0 = none). */
export interface StoreValue {
  value: Uint8Array;
  seq: number;
  expiresAtMs: number;
}

/** StoreEntry is one key/value pair returned by a scan, with its seq and expiry. */
export interface StoreEntry extends StoreValue {
  key: Uint8Array;
}

/** ExpiringPage is one page of `Store.expiring`: the keys it found holding a value with an expiry, and where it stopped. */
export interface ExpiringPage {
  /** entries are the keys visited that hold a value with an expiry, expired or not (copies). */
  entries: { key: Uint8Array; seq: number; expiresAtMs: number }[];
  /** next is the last key visited (the next page's `after`), or undefined once every key was visited. */
  next: Uint8Array | undefined;
}

/** EXPIRING_PAGE_BYTES ends a page of `Store.expiring` early once the keys and values it read reach it. */
export const EXPIRING_PAGE_BYTES = 4 * 1024 * 1024;

/**
 * SCAN_PAGE_BYTES is the `maxBytes` of every page a reader asks of `Store.scan` for a client (an
 * HTTP scan's part, a watch snapshot's page, RESP SCAN and KEYS, a replica's snapshot page): with
 * large values a page of a fixed count would build gigabytes on the worker for one request.
 */
export const SCAN_PAGE_BYTES = 4 * 1024 * 1024;

/** entryBytes is what one scanned entry counts towards a scan's `maxBytes`: its key and value. */
export function entryBytes(e: { key: Uint8Array; value: Uint8Array }): number {
  return e.key.length + e.value.length;
}

/**
 * scanPageFull says a page `Store.scan` returned for (`limit`, `maxBytes`) stopped at one of them,
 * so more entries may follow its last key; false: the scan reached the end of its range.
 */
export function scanPageFull(
  page: readonly { key: Uint8Array; value: Uint8Array }[],
  limit: number,
  maxBytes = Infinity,
): boolean {
  if (page.length === 0) return false;
  if (page.length >= limit) return true;
  let bytes = 0;
  for (const e of page) bytes += entryBytes(e);
  return bytes >= maxBytes;
}

/** WriteResult is what a durable write reports: its sequence number. */
export interface WriteResult {
  seq: number;
}

/**
 * WriteSink hears what became of writes issued with `Store.writeTo`, each named by the caller's
 * `token`: exactly one of `written` (durable as `seq`) or `refused` per write, in the store's seq
 * order, possibly before `writeTo` returns (a refusal). It is the promise of `put`/`delete`
 * without a promise, two closures and a microtask per write (the shard worker's every PUT:
 * docs/performance.md, "The worker's CPU per PUT").
 */
export interface WriteSink {
  written(token: number, seq: number): void;
  refused(token: number, err: Error): void;
}

/** tellSink tells `sink` the outcome of `write` under `token` (a write made with a promise, answered as a WriteSink's). */
export function tellSink(write: Promise<WriteResult>, sink: WriteSink, token: number): void {
  write.then(
    ({ seq }) => {
      sink.written(token, seq);
    },
    (err: unknown) => {
      sink.refused(token, err as Error);
    },
  );
}

/**
 * StoreStats are counters a store reports for /stats and /metrics. Fields named `mem*Bytes` are the
 * parts of the memory the store holds and `memBytes` their sum (docs/operations.md, "Memory").
 */
export interface StoreStats {
  engine: string;
  keys: number;
  bytes: number;
  lastSeq: number;
  [counter: string]: number | string;
}

/** Store is one shard's storage. */
export interface Store {
  /** engine names the implementation ("memory", "lmdb", ...). */
  readonly engine: string;
  /** replication is the store's replication seam (store-replication.ts); undefined for a store that does not replicate. */
  readonly replication?: StoreReplication | undefined;
  /**
   * get returns the value of `key`, or undefined (also once expired). The returned bytes are only
   * valid until the next read of any store on this thread: an LSM or lmdb store's value may be a
   * view of lmdb-js's one read buffer per thread, which every LMDB read refills (copy to keep it).
   */
  get(key: Uint8Array): Uint8Array | undefined;
  /**
   * read returns the value and version of `key`, or undefined when it is missing or expired at
   * `nowMs` (default: the store's clock; 0 shows expired values too). The value bytes are only
   * valid until the next read of any store on this thread (as `get`'s).
   */
  read(key: Uint8Array, nowMs?: number): StoreValue | undefined;
  /** put stores `value` under `key`, expiring at `expiresAtMs` (Unix ms; 0 or absent = never); resolves once durable. */
  put(key: Uint8Array, value: Uint8Array, expiresAtMs?: number): Promise<WriteResult>;
  /** delete removes `key` (a no-op write if absent); resolves once durable. */
  delete(key: Uint8Array): Promise<WriteResult>;
  /** expire logs the ordered delete of `key` whose expiry passed (TYPE_EXPIRE; applies as a delete); resolves once durable. */
  expire(key: Uint8Array): Promise<WriteResult>;
  /**
   * writeTo is `put` (or, for value null, `delete`) that tells `sink` the outcome under `token`
   * instead of returning a promise. Optional: callers fall back to put and delete without it.
   * `key` and `value` must stay unchanged until the sink hears of the write.
   */
  writeTo?(
    key: Uint8Array,
    value: Uint8Array | null,
    expiresAtMs: number,
    sink: WriteSink,
    token: number,
  ): void;
  /**
   * scan returns up to `limit` live entries whose key starts with `prefix` and is greater than
   * `after`, in key order (copies). With `maxBytes`, the page also ends after the entry that brings
   * its keys' and values' bytes to `maxBytes` or more (so it holds at least one entry): whether a
   * page stopped early is `scanPageFull`, and the next page starts after its last key.
   */
  scan(prefix: Uint8Array, after: Uint8Array | undefined, limit: number, maxBytes?: number): StoreEntry[];
  /**
   * expiring visits up to `limit` keys greater than `after`, in key order (an engine that reads
   * values to learn expiries ends a page sooner, after EXPIRING_PAGE_BYTES of them), and returns those whose newest write is a value with
   * an expiry, expired or not: how a new leader's reaper learns the expiries to log
   * (src/worker/expiry-scan.ts). Every engine here has it (memory, LSM, lmdb).
   */
  expiring?(after: Uint8Array | undefined, limit: number): ExpiringPage;
  /** lastSeq returns the sequence number of the newest acknowledged write. */
  lastSeq(): number;
  /** stats returns the store's counters. */
  stats(): StoreStats;
  /** timings returns the store's duration histograms by stats field name, if it keeps any (/stats and /metrics). */
  timings?(): Record<string, HistogramSnapshot>;
  /**
   * writeRefusal is what every write to the store is refused with now because its own files fail
   * (an LSM store's flushes or compactions failing with writes piled up: flush-queue.ts), if so:
   * what /cluster shows as the store's `local_error` (worker-stores.ts). Absent: never.
   */
  writeRefusal?(): DistkvError | undefined;
  /** close flushes and releases everything; the store is unusable afterwards. */
  close(): Promise<void>;
}

/** StoreOptions are what every engine is opened with. */
export interface StoreOptions {
  /** dir is the store's own directory (created if missing). */
  dir: string;
  durability: Durability;
  fsyncIntervalMs: number;
  /** clock returns the time in Unix ms that expiries are compared with (default Date.now; tests inject one). */
  clock?: () => number;
  /** onDirLost hears, once, that the store's directory was removed or replaced while it runs (store-dir-watch.ts). */
  onDirLost?: ((lost: DistkvError) => void) | undefined;
}

/** LsmTuning are the LSM engine's settings (the [storage] table). */
export interface LsmTuning {
  memtableBytes: number;
  maxRuns: number;
  walSegmentBytes: number;
  walRetentionBytes: number;
  /** ringBytes bounds the recent log each store keeps in memory for replicas (replication.ring_bytes). */
  ringBytes: number;
  /** blockCacheBytes bounds each store's SSTable block cache (storage.block_cache_bytes; default when absent). */
  blockCacheBytes?: number;
}
