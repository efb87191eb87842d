/**
 * validateConfig: turns parsed TOML into a `Config`, reporting every bad field at once.
 *
 * It checks types and bounds of every setting, that shard `idx` values are 0..N-1 without duplicates
 * or gaps, that names and addresses are well formed, that no replica equals its leader or repeats,
 * that no node is written two ways nor two nodes name one listening socket (socket-alias.ts),
 * and that slot ranges (given or computed) cover all 16384 slots exactly once. Problems name the
 * field (`shards[2].address`) and what was expected; the caller gets one `ConfigError` listing them.
 */
import { TOKEN_RULE, tokenProblem } from '../util/bearer-token.js';
import { ConfigError } from '../errors.js';
import { MAX_SHARD_MEMBERS } from '../routing/epoch-numbers.js';
import { SLOT_COUNT } from '../routing/slot.js';
import { didYouMean } from '../util/did-you-mean.js';
import { formatAddress, nodeAddressProblem, parseAddress } from './address.js';
import { hostKey } from './host-key.js';
import { type NodeField, socketAlias, socketAliasProblems } from './socket-alias.js';
import {
  type Config,
  type CoordinationConfig,
  DEFAULTS,
  type Durability,
  HARD_MAX_CONNECTIONS,
  HARD_MAX_FORWARD_TIMEOUT_MS,
  HARD_MAX_IDLE_TIMEOUT_MS,
  HARD_MAX_UNSENT_BYTES,
  HARD_MAX_KEY_BYTES,
  HARD_MAX_VALUE_BYTES,
  type ReplicationConfig,
  type ServerConfig,
  type ShardConfig,
  type SlotRange,
  type StorageConfig,
  type StorageEngine,
} from './schema.js';

type Table = Record<string, unknown>;

const DURABILITIES: readonly Durability[] = ['fsync', 'interval', 'none'];
const ENGINES: readonly StorageEngine[] = ['lsm', 'lmdb', 'memory'];
const SHARD_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function isTable(v: unknown): v is Table {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  if (v instanceof Date)
    return Number.isNaN(v.getTime()) ? 'a TOML date-time' : `a TOML date-time (${v.toISOString()})`;
  if (typeof v === 'string') return `"${v}"`;
  if (typeof v === 'object') return 'a table';
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint')
    return `${typeof v} ${String(v)}`;
  return typeof v;
}

/**
 * elsewhere says which table a setting unknown under `prefix` belongs to, when it is one of
 * another's: `durability = "none"` written after a `[[shards]]` block is that shard's key in TOML,
 * and the error named only the shard's settings.
 */
function elsewhere(key: string, prefix: string): string {
  const table = (['server', 'storage', 'replication', 'coordination'] as const).find((t) =>
    Object.hasOwn(DEFAULTS[t], key),
  );
  if (table === undefined) return '';
  const why = prefix.startsWith('shards[')
    ? ' (in TOML the keys after a [[shards]] header belong to that shard until the next header)'
    : '';
  return `; ${key} is a [${table}] setting: put it under [${table}]${why}`;
}

/** Problems collects problems found while validating. */
class Problems {
  readonly list: string[] = [];

  add(field: string, message: string): void {
    this.list.push(`${field}: ${message}`);
  }

  unknownKeys(table: Table, allowed: readonly string[], prefix: string): void {
    for (const key of Object.keys(table)) {
      if (!allowed.includes(key)) {
        const meant = didYouMean(key, allowed);
        this.add(
          `${prefix}${key}`,
          `unknown setting (expected one of ${allowed.join(', ')}${meant === undefined ? '' : `; did you mean ${meant}?`})${elsewhere(key, prefix)}`,
        );
      }
    }
  }

  int(table: Table, key: string, prefix: string, fallback: number, min: number, max: number): number {
    const v = table[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      this.add(`${prefix}${key}`, `expected an integer in ${min}..${max}, got ${describe(v)}`);
      return fallback;
    }
    if (v < min || v > max) {
      this.add(`${prefix}${key}`, `expected an integer in ${min}..${max}, got ${v}`);
      return fallback;
    }
    return v;
  }

  str(table: Table, key: string, prefix: string, fallback: string): string {
    const v = table[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'string') {
      this.add(`${prefix}${key}`, `expected a string, got ${describe(v)}`);
      return fallback;
    }
    return v;
  }

  oneOf<T extends string>(table: Table, key: string, prefix: string, fallback: T, allowed: readonly T[]): T {
    const v = this.str(table, key, prefix, fallback);
    if ((allowed as readonly string[]).includes(v)) return v as T;
    this.add(`${prefix}${key}`, `expected one of ${allowed.map((a) => `"${a}"`).join(', ')}, got "${v}"`);
    return fallback;
  }

  table(root: Table, key: string): Table {
    const v = root[key];
    if (v === undefined) return {};
    if (isTable(v)) return v;
    this.add(key, `expected a table [${key}], got ${describe(v)}`);
    return {};
  }
}

function parseSlots(text: string): SlotRange | string {
  const m = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(text);
  if (!m) return `expected "first-last", as "0-4095", got "${text}"`;
  const first = Number(m[1]);
  const last = Number(m[2]);
  if (first > last) return `first slot ${first} is after last slot ${last}`;
  if (last >= SLOT_COUNT) return `last slot ${last} is outside 0..${SLOT_COUNT - 1}`;
  return { first, last };
}

/** defaultSlotRange returns shard i's range among n: [floor(i*16384/n), floor((i+1)*16384/n)). */
export function defaultSlotRange(i: number, n: number): SlotRange {
  return { first: Math.floor((i * SLOT_COUNT) / n), last: Math.floor(((i + 1) * SLOT_COUNT) / n) - 1 };
}

function validateShards(raw: unknown, p: Problems): ShardConfig[] {
  if (raw === undefined) {
    p.add('shards', 'no [[shards]] defined: at least one shard is required');
    return [];
  }
  if (!Array.isArray(raw)) {
    p.add('shards', `expected an array of tables ([[shards]]), got ${describe(raw)}`);
    return [];
  }
  const shards: ShardConfig[] = [];
  const explicitSlots: (SlotRange | undefined)[] = [];
  /** fileIndex[k] is the index in the file of shards[k] (entries that are not tables are left out). */
  const fileIndex: number[] = [];
  raw.forEach((entry: unknown, i) => {
    const at = `shards[${i}].`;
    if (!isTable(entry)) {
      p.add(`shards[${i}]`, `expected a table, got ${describe(entry)}`);
      return;
    }
    p.unknownKeys(entry, ['name', 'idx', 'address', 'replicas', 'slots'], at);
    const name = p.str(entry, 'name', at, '');
    if (entry.name === undefined) p.add(`${at}name`, 'missing (expected a shard name such as "shard-0")');
    else if (!SHARD_NAME.test(name))
      p.add(`${at}name`, `"${name}" must be 1-64 of A-Z a-z 0-9 . _ - (it names a directory)`);
    if (entry.idx === undefined) p.add(`${at}idx`, 'missing (expected the shard index, 0..N-1)');
    const idx = p.int(entry, 'idx', at, -1, 0, 65535);
    const address = p.str(entry, 'address', at, '');
    if (entry.address === undefined) p.add(`${at}address`, 'missing (expected "host:port")');
    else {
      const wrong = nodeAddressProblem(address);
      if (wrong !== undefined) p.add(`${at}address`, `"${address}": ${wrong}`);
    }
    const replicas: string[] = [];
    const rawReplicas = entry.replicas ?? [];
    if (!Array.isArray(rawReplicas))
      p.add(`${at}replicas`, `expected an array of "host:port", got ${describe(rawReplicas)}`);
    else {
      rawReplicas.forEach((r: unknown, j) => {
        const field = `${at}replicas[${j}]`;
        if (typeof r !== 'string') {
          p.add(field, `expected "host:port", got ${describe(r)}`);
          return;
        }
        const wrong = nodeAddressProblem(r);
        if (wrong !== undefined) p.add(field, `"${r}": ${wrong}`);
        else if (r === address)
          p.add(field, `"${r}" is the shard's own leader address; a replica must live elsewhere`);
        else if (replicas.includes(r)) p.add(field, `"${r}" is listed twice`);
        else replicas.push(r);
      });
      if (rawReplicas.length >= MAX_SHARD_MEMBERS)
        p.add(
          `${at}replicas`,
          `${rawReplicas.length} replicas; a shard has at most ${MAX_SHARD_MEMBERS} members (its leader and ${MAX_SHARD_MEMBERS - 1} replicas): each new epoch's number names its leader among them (docs/failover.md, "Epoch numbers")`,
        );
    }
    let slots: SlotRange | undefined;
    if (entry.slots !== undefined) {
      if (typeof entry.slots !== 'string')
        p.add(`${at}slots`, `expected "first-last", got ${describe(entry.slots)}`);
      else {
        const parsed = parseSlots(entry.slots);
        if (typeof parsed === 'string') p.add(`${at}slots`, parsed);
        else slots = parsed;
      }
    }
    explicitSlots.push(slots);
    fileIndex.push(i);
    shards.push({ name, idx, address, replicas, slots: { first: 0, last: -1 } });
  });

  const byIdx = new Map<number, number>();
  const byName = new Map<string, number>();
  shards.forEach((s, i) => {
    if (s.idx >= 0) {
      const prev = byIdx.get(s.idx);
      if (prev !== undefined)
        p.add(`shards[${fileIndex[i]!}].idx`, `duplicate idx ${s.idx} (also shards[${fileIndex[prev]!}])`);
      else byIdx.set(s.idx, i);
    }
    if (s.name !== '') {
      const prev = byName.get(s.name);
      if (prev !== undefined)
        p.add(
          `shards[${fileIndex[i]!}].name`,
          `duplicate name "${s.name}" (also shards[${fileIndex[prev]!}])`,
        );
      else byName.set(s.name, i);
    }
  });
  for (let i = 0; i < shards.length; i++) {
    if (!byIdx.has(i) && shards.every((s) => s.idx >= 0)) {
      p.add('shards', `no shard has idx ${i}: idx values must be 0..${shards.length - 1} without gaps`);
    }
  }
  // A shard whose slots are given but malformed counts as given: its own problem says what is wrong.
  const written = raw.filter((e: unknown) => isTable(e) && e.slots !== undefined).length;
  const given = explicitSlots.filter((s) => s !== undefined).length;
  if (written > 0 && written < shards.length) {
    p.add(
      'shards',
      `slots given for ${written} of ${shards.length} shards: give "slots" for every shard or for none`,
    );
  }
  const n = shards.length;
  // Every shard owns at least one slot: above SLOT_COUNT shards, a default range would be empty.
  if (n > SLOT_COUNT) p.add('shards', `${n} shards; at most ${SLOT_COUNT}, one per slot`);
  shards.forEach((s, i) => {
    s.slots = given === n ? explicitSlots[i]! : defaultSlotRange(s.idx >= 0 ? s.idx : i, n);
  });
  if (given === n && n > 0) checkSlotCoverage(shards, fileIndex, p);
  return shards.sort((a, b) => a.idx - b.idx);
}

function checkSlotCoverage(shards: ShardConfig[], fileIndex: readonly number[], p: Problems): void {
  // A problem names the entries as the file has them (`shards[i]`).
  const sorted = shards
    .map((s, k) => ({ s, i: fileIndex[k]! }))
    .sort((a, b) => a.s.slots.first - b.s.slots.first);
  let next = 0;
  let owner = -1;
  for (const { s, i } of sorted) {
    if (s.slots.first > next) p.add('shards', `slots ${next}-${s.slots.first - 1} are owned by no shard`);
    if (s.slots.first < next)
      p.add(
        `shards[${i}].slots`,
        `"${s.slots.first}-${s.slots.last}" overlaps slots of shards[${owner}] (${s.slots.first}-${Math.min(next, s.slots.last + 1) - 1})`,
      );
    if (s.slots.last + 1 > next) {
      next = s.slots.last + 1;
      owner = i;
    }
  }
  if (next < SLOT_COUNT) p.add('shards', `slots ${next}-${SLOT_COUNT - 1} are owned by no shard`);
}

function validateServer(t: Table, p: Problems): ServerConfig {
  const d = DEFAULTS.server;
  const at = 'server.';
  p.unknownKeys(t, Object.keys(d), at);
  const server: ServerConfig = {
    data_dir: p.str(t, 'data_dir', at, d.data_dir),
    workers: p.int(t, 'workers', at, d.workers, 0, 256),
    token: p.str(t, 'token', at, d.token),
    max_key_bytes: p.int(t, 'max_key_bytes', at, d.max_key_bytes, 1, HARD_MAX_KEY_BYTES),
    max_value_bytes: p.int(t, 'max_value_bytes', at, d.max_value_bytes, 1, HARD_MAX_VALUE_BYTES),
    tls_cert: p.str(t, 'tls_cert', at, d.tls_cert),
    tls_key: p.str(t, 'tls_key', at, d.tls_key),
    resp_port_offset: p.int(t, 'resp_port_offset', at, d.resp_port_offset, -65535, 65535),
    tls_ca: p.str(t, 'tls_ca', at, d.tls_ca),
    max_connections: p.int(t, 'max_connections', at, d.max_connections, 1, HARD_MAX_CONNECTIONS),
    max_unsent_bytes: p.int(t, 'max_unsent_bytes', at, d.max_unsent_bytes, 0, HARD_MAX_UNSENT_BYTES),
    idle_timeout_ms: p.int(t, 'idle_timeout_ms', at, d.idle_timeout_ms, 0, HARD_MAX_IDLE_TIMEOUT_MS),
    forward_timeout_ms: p.int(
      t,
      'forward_timeout_ms',
      at,
      d.forward_timeout_ms,
      1,
      HARD_MAX_FORWARD_TIMEOUT_MS,
    ),
  };
  if (server.data_dir === '') p.add(`${at}data_dir`, 'must not be empty');
  // A shell expands ~, a config file does not: "~/x" made a directory named ~ where the node started.
  else if (server.data_dir === '~' || server.data_dir.startsWith('~/'))
    p.add(
      `${at}data_dir`,
      `"${server.data_dir}": a config file does not expand ~ (it would be a directory named ~ in the directory the node starts in): write the whole path`,
    );
  // The token every node sends and checks: one a header cannot carry as written never matched (util/bearer-token.ts).
  const tokenBad = tokenProblem(server.token);
  if (tokenBad !== undefined) p.add(`${at}token`, `${tokenBad}: ${TOKEN_RULE}`);
  // One answer counts whole against the budget: under two of the largest values, a read of one was
  // cut off (the connection closed as the largest holder) however fast its client read.
  if (server.max_unsent_bytes > 0 && server.max_unsent_bytes < 2 * server.max_value_bytes)
    p.add(
      `${at}max_unsent_bytes`,
      `must be 0 (no limit) or at least 2 x server.max_value_bytes (${String(2 * server.max_value_bytes)}), got ${String(server.max_unsent_bytes)}: below it a read of one large value is cut off`,
    );
  if ((server.tls_cert === '') !== (server.tls_key === '')) {
    p.add(`${at}tls_cert`, 'tls_cert and tls_key must be set together (both set = HTTPS)');
  }
  return server;
}

function validateStorage(t: Table, p: Problems): StorageConfig {
  const d = DEFAULTS.storage;
  const at = 'storage.';
  p.unknownKeys(t, Object.keys(d), at);
  return {
    engine: p.oneOf(t, 'engine', at, d.engine, ENGINES),
    durability: p.oneOf(t, 'durability', at, d.durability, DURABILITIES),
    fsync_interval_ms: p.int(t, 'fsync_interval_ms', at, d.fsync_interval_ms, 1, 60000),
    memtable_bytes: p.int(t, 'memtable_bytes', at, d.memtable_bytes, 65536, 2 ** 32),
    max_runs: p.int(t, 'max_runs', at, d.max_runs, 1, 64),
    wal_segment_bytes: p.int(t, 'wal_segment_bytes', at, d.wal_segment_bytes, 65536, 2 ** 32),
    wal_retention_bytes: p.int(t, 'wal_retention_bytes', at, d.wal_retention_bytes, 0, 2 ** 50),
    block_cache_bytes: p.int(t, 'block_cache_bytes', at, d.block_cache_bytes, 0, 2 ** 40),
  };
}

function validateReplication(t: Table, p: Problems): ReplicationConfig {
  const d = DEFAULTS.replication;
  const at = 'replication.';
  p.unknownKeys(t, Object.keys(d), at);
  return {
    ring_bytes: p.int(t, 'ring_bytes', at, d.ring_bytes, 65536, 2 ** 30),
    pull_max_bytes: p.int(t, 'pull_max_bytes', at, d.pull_max_bytes, 1024, 2 ** 30),
    pull_wait_ms: p.int(t, 'pull_wait_ms', at, d.pull_wait_ms, 0, 60000),
  };
}

/** hasPort tells whether URL text gives a port after its host ("http://h:2379", "http://[::1]:80/"). */
function hasPort(url: string): boolean {
  return /^[a-z]+:\/\/(?:[^@/]*@)?(?:\[[^\]/]*\]|[^:/[\]]+):\d+(?:\/|$)/i.test(url);
}

const CLUSTER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function validateCoordination(t: Table, p: Problems): CoordinationConfig {
  const d = DEFAULTS.coordination;
  const at = 'coordination.';
  p.unknownKeys(t, Object.keys(d), at);
  const etcd: string[] = [];
  const raw = t.etcd ?? [];
  if (!Array.isArray(raw))
    p.add(`${at}etcd`, `expected a list of URLs such as ["http://127.0.0.1:2379"], got ${describe(raw)}`);
  else
    raw.forEach((u: unknown, i) => {
      const field = `${at}etcd[${i}]`;
      if (typeof u !== 'string') {
        p.add(field, `expected a URL string, got ${describe(u)}`);
        return;
      }
      let url: URL | undefined;
      try {
        url = new URL(u);
      } catch {
        url = undefined;
      }
      // URL drops a port that is the scheme's default ("http://etcd:80" has port ""): read the text.
      if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:') || !hasPort(u))
        p.add(field, `"${u}" is not an etcd client URL (expected "http://host:port")`);
      else etcd.push(u);
    });
  const lease = p.int(t, 'lease_ttl_ms', at, d.lease_ttl_ms, 1000, 60000);
  if (lease % 1000 !== 0)
    p.add(`${at}lease_ttl_ms`, `etcd leases count whole seconds: expected a multiple of 1000, got ${lease}`);
  const cluster = p.str(t, 'cluster', at, d.cluster);
  if (cluster !== '' && !CLUSTER_NAME.test(cluster))
    p.add(`${at}cluster`, `"${cluster}" must be 1-64 of A-Z a-z 0-9 . _ - (it names etcd keys)`);
  return { etcd, lease_ttl_ms: lease, cluster };
}

/**
 * checkRespPorts reports nodes whose RESP port (HTTP port + resp_port_offset) falls outside
 * 1..65535, or is the HTTP socket of another node (one of the two could not listen): on the same
 * host in any spelling (host-key.ts), or on a host that names the same socket (socket-alias.ts:
 * `localhost` and 127.0.0.1, a wildcard host and a loopback one). Two nodes' RESP sockets clash
 * only when their HTTP ones do (the offset is the same for all), which is reported on its own.
 */
function checkRespPorts(shards: readonly ShardConfig[], offset: number, p: Problems): void {
  if (offset === 0) return;
  const nodes = [...new Set(shards.flatMap((s) => [s.address, ...s.replicas]))].flatMap((text) => {
    const addr = parseAddress(text);
    return typeof addr === 'string' ? [] : [{ text, addr }];
  });
  for (const { text: node, addr: a } of nodes) {
    const port = a.port + offset;
    if (port < 1 || port > 65535) {
      p.add(
        'server.resp_port_offset',
        `node ${node} would get RESP port ${port}, outside 1..65535 (pick another offset, or 0 for no RESP listener)`,
      );
      continue;
    }
    const resp = { host: a.host, port };
    for (const { text: other, addr: b } of nodes) {
      if (b.port !== port) continue;
      const sameHost = hostKey(a.host) === hostKey(b.host);
      const alias = sameHost ? undefined : socketAlias(resp, b);
      if (!sameHost && alias === undefined) continue;
      p.add(
        'server.resp_port_offset',
        `node ${node} would get RESP port ${port}, the HTTP port of node ${other}${alias === undefined ? '' : ` (${formatAddress(resp)} and ${other} are one listening socket: ${alias})`} (pick another offset, or 0 for no RESP listener)`,
      );
      break;
    }
  }
}

/**
 * checkSpellings reports a node written two ways: in letter case ("LocalHost:8080",
 * "localhost:8080"; host names are not case-sensitive) or as another spelling of one IPv6 address
 * ("[0::1]:8080", "[::1]:8080"; host-key.ts). Both are one node, which distkv would take for two
 * (two listeners on one port, or a replica on its own leader's node).
 */
function checkSpellings(shards: readonly ShardConfig[], p: Problems): void {
  const first = new Map<string, { text: string; field: string }>();
  for (const { field, text } of nodeFields(shards)) {
    const a = parseAddress(text);
    const key = typeof a === 'string' ? text.toLowerCase() : `${hostKey(a.host)}:${a.port}`;
    const seen = first.get(key);
    if (seen === undefined) first.set(key, { text, field });
    else if (seen.text !== text)
      p.add(
        field,
        `"${text}" is node "${seen.text}" (${seen.field}) written another way: host names are not case-sensitive, and an IPv6 address has one node whatever its spelling; write each node one way`,
      );
  }
}

/** nodeFields lists every node address of `shards` with its field, in file order. */
function nodeFields(shards: readonly ShardConfig[]): NodeField[] {
  return shards.flatMap((s, i) => [
    { field: `shards[${i}].address`, text: s.address },
    ...s.replicas.map((r, j) => ({ field: `shards[${i}].replicas[${j}]`, text: r })),
  ]);
}

/** validateConfig checks a parsed TOML document and returns the Config, or throws ConfigError listing every problem. */
export function validateConfig(raw: unknown, source: string): Config {
  const p = new Problems();
  if (!isTable(raw)) throw new ConfigError(source, [`expected a TOML document, got ${describe(raw)}`]);
  p.unknownKeys(raw, ['shards', 'server', 'storage', 'replication', 'coordination'], '');
  const shards = validateShards(raw.shards, p);
  const server = validateServer(p.table(raw, 'server'), p);
  const storage = validateStorage(p.table(raw, 'storage'), p);
  const replication = validateReplication(p.table(raw, 'replication'), p);
  const coordination = validateCoordination(p.table(raw, 'coordination'), p);
  checkRespPorts(shards, server.resp_port_offset, p);
  checkSpellings(shards, p);
  for (const { field, text } of socketAliasProblems(nodeFields(shards))) p.add(field, text);
  if (p.list.length > 0) throw new ConfigError(source, p.list);
  return { shards, server, storage, replication, coordination, source };
}
