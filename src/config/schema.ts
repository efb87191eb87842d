/**
 * The configuration schema: the types of a validated config and the one defaults object.
 *
 * A config file is the seed's `sharding.toml` (`[[shards]]` with name, idx, address, replicas) plus
 * optional `[server]`, `[storage]`, `[replication]` and `[coordination]` tables and an optional per-shard `slots`.
 * `validateConfig()` turns the parsed TOML into a `Config`; every field below is then present.
 */

/** Durability says when a write is acknowledged: after fsync, after write (fsync on a timer), or never synced. */
export type Durability = 'fsync' | 'interval' | 'none';

/** StorageEngine names a Store implementation. */
export type StorageEngine = 'lsm' | 'lmdb' | 'memory';

/** SlotRange is an inclusive range of slots [first, last]. */
export interface SlotRange {
  first: number;
  last: number;
}

/** ShardConfig is one `[[shards]]` entry after validation. */
export interface ShardConfig {
  name: string;
  idx: number;
  /** address is the node ("host:port") that hosts this shard's leader. */
  address: string;
  /** replicas are the nodes that host this shard's replicas. */
  replicas: string[];
  slots: SlotRange;
}

/** ServerConfig is the `[server]` table. */
export interface ServerConfig {
  data_dir: string;
  /** workers is the number of shard worker threads; 0 means availableParallelism() - 1 (at least 1). */
  workers: number;
  token: string;
  max_key_bytes: number;
  max_value_bytes: number;
  tls_cert: string;
  tls_key: string;
  /** resp_port_offset puts each node's RESP (Redis protocol) listener on its HTTP port plus this; 0 = none. */
  resp_port_offset: number;
  /** tls_ca is a PEM file of the CA(s) trusted for node-to-node HTTPS instead of the system's (a private CA); "" = system CAs. */
  tls_ca: string;
  /** max_connections bounds the open HTTP and RESP connections of the process (Redis's maxclients). */
  max_connections: number;
  /**
   * max_unsent_bytes bounds the answer bytes all the process's connections built and could not send
   * yet, together (Redis's maxmemory-clients); over it the connections holding the most are closed.
   * 0 = no limit.
   */
  max_unsent_bytes: number;
  /**
   * idle_timeout_ms closes an HTTP connection that has been idle this long: nothing pending, or
   * answers waiting unsent that its client stopped reading (found up to 2 s late). A request body
   * that stops arriving for this long is refused with 408. 0 = never.
   */
  idle_timeout_ms: number;
  /**
   * forward_timeout_ms bounds the owner's silence in each request this node forwards to another
   * (a scan's or a batch's part, and a `--proxy` relay, which gets at least RELAY_TIMEOUT_MS): the
   * wait for the answer's head, and then each wait between two chunks of its body, so a large answer
   * streamed steadily may take longer (up to FORWARD_CEILING_MS, http/forward-silence.ts). An owner
   * silent that long is reported by name (SHARD_UNREACHABLE).
   */
  forward_timeout_ms: number;
}

/** StorageConfig is the `[storage]` table. */
export interface StorageConfig {
  engine: StorageEngine;
  durability: Durability;
  fsync_interval_ms: number;
  memtable_bytes: number;
  max_runs: number;
  wal_segment_bytes: number;
  wal_retention_bytes: number;
  block_cache_bytes: number;
}

/** ReplicationConfig is the `[replication]` table. */
export interface ReplicationConfig {
  ring_bytes: number;
  pull_max_bytes: number;
  pull_wait_ms: number;
}

/**
 * CoordinationConfig is the `[coordination]` table: automatic failover with etcd (docs/failover.md).
 * An empty `etcd` list means no coordinator: leadership moves only with `distkv failover`.
 */
export interface CoordinationConfig {
  /** etcd lists the etcd client URLs ("http://host:port"); [] = no coordination. */
  etcd: string[];
  /** lease_ttl_ms is the leader lease's TTL; etcd counts whole seconds, so a multiple of 1000. */
  lease_ttl_ms: number;
  /** cluster names this cluster's keys in etcd (/distkv/<cluster>/...); "" = the config's topology hash. */
  cluster: string;
}

/** Config is a whole validated configuration. */
export interface Config {
  shards: ShardConfig[];
  server: ServerConfig;
  storage: StorageConfig;
  replication: ReplicationConfig;
  coordination: CoordinationConfig;
  /** source names where the config came from (a file path or "<inline>"). */
  source: string;
}

/** DEFAULTS holds the default of every optional setting. */
export const DEFAULTS = {
  server: {
    data_dir: './data',
    workers: 0,
    token: '',
    max_key_bytes: 1024,
    max_value_bytes: 1048576,
    tls_cert: '',
    tls_key: '',
    resp_port_offset: 1000,
    tls_ca: '',
    max_connections: 10000,
    max_unsent_bytes: 1073741824,
    idle_timeout_ms: 10000,
    forward_timeout_ms: 5000,
  },
  storage: {
    engine: 'lsm',
    durability: 'fsync',
    fsync_interval_ms: 100,
    memtable_bytes: 67108864,
    max_runs: 4,
    wal_segment_bytes: 67108864,
    wal_retention_bytes: 1073741824,
    block_cache_bytes: 16777216,
  },
  replication: {
    ring_bytes: 8388608,
    pull_max_bytes: 1048576,
    pull_wait_ms: 1000,
  },
  coordination: {
    etcd: [] as string[],
    lease_ttl_ms: 2000,
    cluster: '',
  },
} as const satisfies Pick<Config, 'server' | 'storage' | 'replication' | 'coordination'>;

/** HARD_MAX_KEY_BYTES is the largest key any configuration may allow (LMDB's key limit is 1978). */
export const HARD_MAX_KEY_BYTES = 1024;

/** HARD_MAX_CONNECTIONS is the largest `server.max_connections` (Redis accepts up to this too, file limits allowing). */
export const HARD_MAX_CONNECTIONS = 1000000;

/** HARD_MAX_IDLE_TIMEOUT_MS is the longest `server.idle_timeout_ms` (a day: longer is "never", 0). */
export const HARD_MAX_IDLE_TIMEOUT_MS = 86400000;
/** HARD_MAX_FORWARD_TIMEOUT_MS is the longest `server.forward_timeout_ms` (10 minutes, the longest `w` wait too). */
export const HARD_MAX_FORWARD_TIMEOUT_MS = 600000;

/** HARD_MAX_UNSENT_BYTES is the largest `server.max_unsent_bytes` (1 PiB: any memory, in a safe integer). */
export const HARD_MAX_UNSENT_BYTES = 2 ** 50;

/** HARD_MAX_VALUE_BYTES is the largest value any configuration may allow. */
export const HARD_MAX_VALUE_BYTES = 64 * 1024 * 1024;
