/**
 * The types of everything the client library takes and returns. Values are always bytes
 * (`Buffer`); `getString()` is the UTF-8 convenience. Every call takes an optional `AbortSignal`.
 */
import type { DistkvError } from '../errors.js';

/** ClientOptions configure a DistkvClient. */
export interface ClientOptions {
  /** urls are one or more nodes to load the topology from: "host:port" or "http(s)://host:port". */
  urls: string[];
  /** token is sent as a bearer token (needed only for internal endpoints). */
  token?: string;
  /** replicaReads sends reads to a replica of the key's shard (eventually consistent) when it has one, and lets a scan's node read the shards it replicates (items marked with `replicaLag`); without it scans read leaders only. */
  replicaReads?: boolean;
  /**
   * timeoutMs bounds each attempt's wait for an answer's head and between its body's pieces
   * (default 10000; 0: no timeout; at most 2147483647, the longest a timer waits; a `w` write gets its own wait on top; undici's timers fire one under a second
   * up to about a second late). A call can take longer: a read is retried `retries` times, one held by a leader switch is sent again for up to `switchWaitMs`, and
   * one redirected in a loop is started over for up to 5 s.
   */
  timeoutMs?: number;
  /** retries is how many times a read is retried on a connection error or a 503 UNAVAILABLE, and any request on a connection never made (default 3); a write sent and unanswered is never retried (OutcomeUnknownError, docs/api.md "Retries"). */
  retries?: number;
  /** connections per node (default 16). */
  connections?: number;
  /** ca is the PEM certificate(s) trusted for https:// nodes instead of the system's CAs (a private CA). */
  ca?: string | Buffer;
  /**
   * refusedWaitMs is how long a request (or the load of `/cluster`) whose connection a node refuses
   * is sent again, every 200 ms, before it fails: nothing listens at the node's address, as in the
   * gap of a restart (the old process gone, the new one not listening yet; then 503 STARTING is
   * waited for). A refused connection carried nothing, so writes are sent again too. Default 0:
   * only the `retries` quick retries (the CLI waits 10 s, src/cli/connect.ts).
   */
  refusedWaitMs?: number;
  /**
   * onWait is told, once per request and reason, when a request starts waiting instead of failing:
   * for a node that is starting (503 STARTING: its stores are opening, up to `startingWaitMs`), for a leader
   * switch (503 SWITCHING_LEADER, up to `switchWaitMs`) or for a node that refuses connections (REFUSED, up
   * to `refusedWaitMs`). The request goes on by itself; the hook is for saying so (the CLI writes a
   * line on stderr). A hook that throws is ignored.
   */
  onWait?: (notice: WaitNotice) => void;
  /**
   * switchWaitMs is how long a request held by a leader switch (503 SWITCHING_LEADER, not executed:
   * writes too) or by a stopping node (503 DRAINING: with etcd its shards move to a replica) is sent
   * again, every 100 ms, following the shard's new leader, before it fails with that code (default
   * 15000; a failover with etcd takes a lease TTL and a few seconds).
   */
  switchWaitMs?: number;
  /**
   * startingWaitMs is how long a request refused by a node that is starting (503 STARTING: its
   * stores are opening, seconds after a crash with many keys) is sent again, every 200 ms, before
   * it fails with STARTING (default 60000).
   */
  startingWaitMs?: number;
  /**
   * describeTimeout says what a node that sent no answer in time did not answer within, in the
   * message of the call that failed so ("the node did not answer within …"). By default it names
   * this option: "the client's timeout (timeoutMs 10000 ms, one attempt, 10.0 s in all)". An
   * application whose users never see `timeoutMs` says it in its own terms (the distkv CLI: "10 s").
   */
  describeTimeout?: (timeout: TimeoutFacts) => string;
}

/** TimeoutFacts are what ClientOptions.describeTimeout is told of the timeout that ran out. */
export interface TimeoutFacts {
  /** timeoutMs is the client's timeout of each attempt. */
  timeoutMs: number;
  /** waitMs is the node's wait for `w` each attempt was given on top (0 without). */
  waitMs: number;
  /** tries says the attempts and their total time ("each of 4 attempts, 40.2 s in all"), when one call made them. */
  tries?: string;
}

/** WaitNotice is what ClientOptions.onWait is told: why a request waits, at which node, for how long at most. */
export interface WaitNotice {
  /**
   * code is the refusal waited out: STARTING (the node's stores are opening), SWITCHING_LEADER,
   * DRAINING (the node is stopping: with etcd a replica takes its shards over), or REFUSED (the
   * node refuses connections: nothing listens there, e.g. while it restarts).
   */
  code: 'STARTING' | 'SWITCHING_LEADER' | 'DRAINING' | 'REFUSED';
  /** node is the node ("host:port") that refused the request. */
  node: string;
  /** shard is the key's shard, when the request is for one. */
  shard?: number;
  /** waitMs is how much longer the request waits at most before it fails with `code`. */
  waitMs: number;
}

/** CallOptions are what every call takes. */
export interface CallOptions {
  /** signal aborts the call; it then rejects with the signal's reason (an AbortError by default). */
  signal?: AbortSignal;
}

/**
 * ClusterOptions are what `cluster()` takes: `refusedWaitMs` is how long, for this call, a node that
 * refuses connections is tried again (the client's refusedWaitMs by default): a caller with a
 * shorter wait of its own (`distkv restore --wait-ms`) bounds it.
 */
export interface ClusterOptions extends CallOptions {
  refusedWaitMs?: number;
}

/**
 * WriteConditions make a write conditional on the key's version (docs/api.md, "Versions"): a failed
 * condition rejects with PreconditionFailedError (code PRECONDITION_FAILED) carrying the current one.
 * Like every write, one whose answer was lost is not sent again (OutcomeUnknownError).
 */
export interface WriteConditions {
  /** ifMatch writes only if the key's version is this `E.S` (as getVersioned returns it), or, with "*", if it exists. */
  ifMatch?: string;
  /** ifNoneMatch true writes only if the key does not exist (create only). */
  ifNoneMatch?: boolean;
}

/** WriteConcern asks a write (a put or a delete) to wait for replicas. */
export interface WriteConcern {
  /** w waits until this many replicas hold the write (REPLICATION_TIMEOUT after timeoutMs). */
  w?: number;
  /** timeoutMs bounds the wait for `w` (the server's default is 5000); without `w` the write is refused (INVALID_ARGUMENT). */
  timeoutMs?: number;
}

/**
 * GetOptions give a read a read concern (docs/api.md, "Write concern and what reads see"): with
 * `w` ≥ 1 the shard's leader answers only once `w` replicas hold everything it had when it read
 * the key, so the value (or the absence) it shows outlives a failover; REPLICATION_TIMEOUT
 * otherwise. Such a read goes to the leader even from a client made with `replicaReads`.
 */
export interface GetOptions extends CallOptions {
  /** w waits until this many replicas hold what the read saw (0..the shard's replicas; 0 = a plain read). */
  w?: number;
  /** timeoutMs bounds the wait for `w` (the server's default is 5000); without `w` the read is refused (INVALID_ARGUMENT). */
  timeoutMs?: number;
}

/** PutOptions ask a write to wait for replicas, make it conditional, or make it expire. */
export interface PutOptions extends CallOptions, WriteConditions, WriteConcern {
  /** ttlMs makes the key expire this many milliseconds after the write (1..10 years). */
  ttlMs?: number;
  /**
   * expiresAtMs makes the key expire at this Unix time in ms (1..now + 10 years; a time already
   * past deletes the key). Not with `ttlMs`: the node refuses both (INVALID_ARGUMENT).
   */
  expiresAtMs?: number;
}

/**
 * DeleteConditions make a delete conditional: only `ifMatch`, since "delete only if the key does not
 * exist" deletes nothing (nodes refuse it with INVALID_ARGUMENT).
 */
export type DeleteConditions = Pick<WriteConditions, 'ifMatch'>;

/** DeleteOptions make a delete conditional, or wait until replicas hold it (`w`), as a put's. */
export interface DeleteOptions extends CallOptions, DeleteConditions, WriteConcern {}

/**
 * PutResult is an acknowledged put: its seq, the key's new version `E.S`, and `deleted` true when
 * the node that applied it found its expiry (`expiresAtMs`, `ttlMs`) already past by its own clock
 * and wrote it as a delete: the key does not exist, and seq and version are the delete's.
 */
export interface PutResult {
  seq: number;
  version: string;
  deleted: boolean;
}

/** Versioned is a value with its version `E.S` (epoch.seq of the key's last write). */
export interface Versioned {
  value: Buffer;
  version: string;
  /** lag is set when a replica served the read (`replicaReads`): its X-Distkv-Lag text (docs/api.md). */
  lag?: string;
}

/**
 * ScanItem is one key, its value and (from servers that report it) its version `E.S`. A key that
 * is not UTF-8 (written over RESP or as `/kv/%FF...`) shows in `key` with U+FFFD in place of its
 * bytes, and comes exactly in `keyBytes`.
 */
export interface ScanItem {
  key: string;
  keyBytes?: Buffer;
  value: Buffer;
  version?: string;
  /** replicaLag is set when a replica served the item (with `replicaReads`): its X-Distkv-Lag text (docs/api.md). */
  replicaLag?: string;
}

/**
 * ScanPage is one page of a scan: items in key order and the cursor of the next page (null at the
 * end); when that key is not UTF-8, `nextBytes` holds it exactly (pass it as `after`).
 */
export interface ScanPage {
  items: ScanItem[];
  next: string | null;
  nextBytes?: Buffer;
  /** replicaLag maps each shard a replica served (with `replicaReads`) to its X-Distkv-Lag text; absent when leaders served the page. */
  replicaLag?: Record<number, string>;
}

/** ScanPageOptions select one page. */
export interface ScanPageOptions extends CallOptions {
  /** limit is the page size (1..10000, default 100). */
  limit?: number;
  /** after starts the page after this key (bytes for a key that is not UTF-8). */
  after?: string | Uint8Array;
}

/** ScanOptions configure an iterating scan. */
export interface ScanOptions extends CallOptions {
  /** pageSize is how many items each request fetches (default 1000). */
  pageSize?: number;
  /** after starts the scan after this key (bytes for a key that is not UTF-8). */
  after?: string | Uint8Array;
}

/**
 * BatchOp is one operation of a batch; a set may expire (`ttlMs` after the write, or at
 * `expiresAtMs`, Unix ms, as PutOptions). An operation with a condition
 * (WriteConditions) makes the whole batch all-or-nothing: then every key must be in one shard
 * (use a {hash tag}), and a failed condition fails every operation (docs/api.md).
 */
export type BatchOp =
  | ({
      op: 'set';
      key: string;
      value: Uint8Array | string;
      ttlMs?: number;
      expiresAtMs?: number;
    } & WriteConditions)
  | ({ op: 'delete'; key: string } & DeleteConditions);

/**
 * BatchResult is one operation's outcome, in the order of the operations; `deleted` marks a set
 * whose expiry was already past by its leader's clock, so the node wrote it as a delete.
 */
export type BatchResult = { ok: true; deleted?: true } | { ok: false; error: DistkvError };

/** ClusterReplica is a replica as /cluster shows it (positions only when the node hosts it). */
export interface ClusterReplica {
  address: string;
  local: boolean;
  acked_seq?: number;
  lag_seqs?: number | null;
  lag_ms?: number | null;
  /** last_contact_ms_ago is set when the lag is unknown (the replica is not following its leader). */
  last_contact_ms_ago?: number;
  state?: string;
  /** local_error is the code of the replica's own disk's failure (DISK_FULL, ..., STORE_DIR_LOST: its store here lost its directory) while its state is `disk-failed`. */
  local_error?: string;
}

/** ClusterShard is one shard of /cluster. */
export interface ClusterShard {
  idx: number;
  name: string;
  /** slots is the first and last slot of the shard's range. */
  slots: [number, number];
  /** epoch is the term of the shard's current leader (docs/failover.md). */
  epoch?: number;
  /**
   * config_leader is the leader the answering node's config (sharding.toml `address`) names, when
   * it is not the live map's `leader` (a failover moved it, or the file was edited: the live map
   * decides); absent when they agree, and from older nodes.
   */
  config_leader?: string;
  /**
   * no_lease: with `[coordination] etcd`, the leader's node does not hold the shard's leader key (it
   * takes no writes). last_write_seq: its last seq that is not an expire record it logged itself as
   * a TTL ran out (`distkv backup` compares it; absent from older nodes). behind: the leader started
   * behind a replica (an empty or older store) and serves nothing of the shard until a failover
   * (503 LEADER_BEHIND; docs/failover.md, "A leader that starts behind its replica");
   * `handing_over`: with etcd, it gave up its leader key and the replica takes over by itself.
   */
  leader: {
    address: string;
    local: boolean;
    last_seq?: number;
    last_write_seq?: number;
    no_lease?: boolean;
    behind?: { replica: string; replica_seq: number; leader_seq: number; handing_over?: boolean };
    /** state is `failed` when the leader's store did not open (its node answers, the shard is refused), with its `error`. */
    state?: string;
    error?: string;
    /**
     * local_error: the leader's store is open but refuses every write, with this code: its
     * directory was removed or replaced while it runs (STORE_DIR_LOST; reads still work, what it
     * holds is gone at the next start). Only the leader's own node says it.
     */
    local_error?: string;
  };
  replicas: ClusterReplica[];
}

/** ClusterView is the /cluster document of one node. */
export interface ClusterView {
  /** version is the topology hash every node and client compares. */
  version: string;
  /** map_version is the version of the live map the leaders below follow (docs/failover.md). */
  map_version?: number;
  slots: number;
  node: string;
  hosted_nodes: string[];
  /** auth: "token" when the node requires server.token on admin and internal requests, "none" when not (older nodes: absent). */
  auth?: 'token' | 'none';
  shards: ClusterShard[];
  peers?: unknown;
  /** limits are the node's bounds on a key and a value in bytes (server.max_key_bytes, server.max_value_bytes), from nodes that report them. */
  limits?: { max_key_bytes: number; max_value_bytes: number };
  /**
   * coordination is present when the node runs `[coordination]` (etcd): its lease TTL, its etcd
   * endpoints, the etcd cluster it talks to, and the peers that name another one (docs/failover.md).
   */
  coordination?: {
    lease_ttl_ms: number;
    etcd?: string[];
    etcd_cluster_id?: string;
    different_etcd_clusters?: {
      takes_part: boolean;
      message: string;
      nodes: { node: string; etcd_cluster_id: string; etcd: string[] }[];
    };
  };
  /** starting is present while the node opens its stores (it answers /cluster meanwhile): how far its replay of the commit logs is. */
  starting?: Record<string, number>;
}

/** NodeStats is the /stats document of one node (per-store counters vary by engine). */
export interface NodeStats {
  node: Record<string, unknown>;
  stores: Record<string, unknown>[];
}

/** ClientStats count what the client did (tests and benchmarks read them). */
export interface ClientStats {
  requests: number;
  redirects: number;
  retries: number;
  topologyLoads: number;
}
