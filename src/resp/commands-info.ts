/**
 * INFO [section ...]: server, clients, memory, stats, persistence, replication, cluster and
 * keyspace, in Redis's field names (docs/resp.md). It answers once the connection's earlier
 * replies are complete (readAtHead), so the writes sent before it are counted: `keys` is the
 * stores' count (as DBSIZE), `expires` and `avg_ttl` a census of the keys with an expiry
 * (keyspace-expiries.ts). While a peer's config gives some of the counted stores' slots another
 * leader (src/server/slot-gate.ts), the keyspace section adds `disputed_slots:N`, their count: the
 * figures may then miss the keys that leader took (or count keys it deleted). INFO is not refused
 * as DBSIZE is: monitoring tools poll it, and a refusal would blank every other section. A served
 * leader store that answers no reads now (a failover holds its writes, or it has no lease: the
 * stores DBSIZE and SCAN answer -TRYAGAIN for, served-stores.ts `heldAt`) is left out of
 * `keys`, `expires` and `avg_ttl`, and the section adds `held_slots:N`, its slots' count: a new
 * leader may already hold writes, or deletes, that its count lacks. While the node starts (its
 * stores are opening: RespContext.loading) INFO answers without asking the stores, with `loading:1`
 * in the persistence section and no keyspace lines, as Redis while it loads its dataset. The
 * replication section's link to the master is down while the peer check finds it down or while a
 * replica store here does not follow it, and a master lists each replica connected to it on a
 * `slaveN:` line with its state (`online`, or `wait_bgsave` / `send_bulk` while it resyncs from a
 * snapshot), offset and lag, `connected_slaves` counting the lines; a replica whose link is down
 * (disconnected, held, its own disk failed) is not listed, as in Redis (replica-links.ts).
 *
 * Bounds: the stats round and each page of the expiry census wait at most STATS_WAIT_MS for a
 * worker (store-stats.ts, keyspace-expiries.ts); when a worker does not answer within it, INFO
 * answers -TRYAGAIN, as DBSIZE does. Not without the expiry figures: Redis always writes
 * `expires` and `avg_ttl` on a `db0` line, and the clients that parse INFO (redis-py's
 * `parse_info`, monitoring exporters) read them as numbers; leaving them out is a line Redis never
 * writes, and writing 0 says no key expires. Not without the keyspace section either: a section
 * without `db0` says the node holds no keys. A TRYAGAIN is a reply a client retries, and the
 * connection's later replies go out at once.
 */
import { arch, platform } from 'node:os';
import { masterOf } from './commands-cluster.js';
import { SERVER_VERSION } from './commands-connection.js';
import { countKeys } from './commands-keyspace.js';
import { statsWithin } from './store-stats.js';
import { disputedServed, readableServed } from './served-stores.js';
import type { ExpiryCount } from './keyspace-expiries.js';
import { replicaLag } from '../replication/lag.js';
import { knownReplicas, type LedShard, masterLink, type ReplicaLink } from './replica-links.js';
import type { Pending } from './reply-queue.js';
import type { RespConnection } from './resp-connection.js';
import type { ReplayProgressOfNode } from '../server/start-progress.js';
import type { ShardInfo } from '../routing/shard-map.js';
import type { StoreStatsReport } from '../worker/messages.js';

/** info: INFO [section ...]: server, clients, memory, persistence, replication, cluster, keyspace. */
export function info(c: RespConnection, args: Buffer[]): void {
  const wanted = new Set(args.slice(1).map((a) => a.toString('latin1').toLowerCase()));
  const all = wanted.size === 0 || wanted.has('all') || wanted.has('everything') || wanted.has('default');
  const p = c.queue.later(c.proto, () => undefined);
  // Counted once the connection's earlier replies are complete, as DBSIZE is: their writes count.
  c.readAtHead(p, () => {
    infoFor(c, p, all, wanted);
  });
}

/**
 * infoFor answers INFO at `p` with the sections `wanted` (every one when `all`). The keys with an
 * expiry are counted (a census of the served stores: keyspace-expiries.ts) only when the keyspace
 * section is asked for.
 */
function infoFor(c: RespConnection, p: Pending, all: boolean, wanted: Set<string>): void {
  // While the node starts its stores are opening: the workers are not asked, nothing is counted
  // (the persistence section says `loading:1`).
  const loading = c.ctx.loading?.() === true;
  const census = !loading && (all || wanted.has('keyspace'));
  // Only the sections of STATS_SECTIONS ask the workers: `INFO server` answered TRYAGAIN for a
  // worker silent for STATS_WAIT_MS though it reads nothing of theirs.
  const asks = !loading && (all || STATS_SECTIONS.some((name) => wanted.has(name)));
  const { readable, heldSlots } = loading ? NOT_OPEN : readableServed(c);
  // One stats round gives the keys and the leaders' word on their replicas' pulls.
  Promise.all([asks ? statsWithin(c) : [], census ? c.ctx.expiries.count(readable) : NO_EXPIRIES]).then(
    ([stats, expiries]) => {
      const keys = countKeys(stats, readable);
      const sections = infoSections(c, { keys, expiries, heldSlots }, stats).filter(
        ([name]) => all || wanted.has(name.toLowerCase()),
      );
      const text = sections.map(([name, lines]) => `# ${name}\r\n${lines.join('\r\n')}\r\n`).join('\r\n');
      c.queue.completeWith(p, (w) => {
        w.verbatim(text);
      });
    },
    (err: unknown) => {
      c.queue.completeWith(p, (w) => {
        w.error(`TRYAGAIN ${err instanceof Error ? err.message : String(err)}`);
      });
    },
  );
}

/**
 * STATS_SECTIONS are the sections that read the stores' stats: used_memory (their memory),
 * the replicas' offsets and lags (a leader store's word on pulls from other processes) and the keys.
 */
const STATS_SECTIONS = ['memory', 'replication', 'keyspace'];

const NO_EXPIRIES: ExpiryCount = { expires: 0, avgTtlMs: 0 };
const NOT_OPEN: ReturnType<typeof readableServed> = { readable: [], heldSlots: 0 };

/** Keyspace is what the keyspace section reports: the keys of the stores that answer reads, and the slots of those that do not. */
interface Keyspace {
  keys: number;
  expiries: ExpiryCount;
  heldSlots: number;
}

function infoSections(
  c: RespConnection,
  keyspace: Keyspace,
  stats: readonly StoreStatsReport[],
): [string, string[]][] {
  const { listener, config, plan, connections } = c.ctx;
  const shards = c.ctx.liveShards();
  const led = shards.filter((s) => s.address === listener.address);
  // The master CLUSTER NODES names (commands-cluster.ts), and the nodes this node's last peer check
  // found down: a replica's link to a master that does not answer is down, and a replica that does
  // not answer is not connected, as Redis reports them.
  const master = led.length > 0 ? undefined : masterOf(listener.address, shards);
  const down = c.ctx.downNodes?.() ?? new Set<string>();
  const pullWaitMs = config.replication.pull_wait_ms;
  const ledHere = ledShards(c, led);
  const replicas = knownReplicas(ledHere, down, c.ctx.pool.positions, stats, pullWaitMs, c.ctx.leaderView);
  const mem = process.memoryUsage();
  const replication =
    master === undefined
      ? masterLines(c, ledHere, replicas)
      : (() => {
          const [host, port] = splitHostPort(master);
          const mine = plan.stores.filter(
            (x) =>
              x.node === listener.address &&
              x.role === 'replica' &&
              shards.some((s) => s.idx === x.shard.idx && s.address === master),
          );
          // Its acks summed over that master's shards it replicates: the offset the master lists it at.
          const ack = mine.reduce((n, x) => n + c.ctx.pool.lastSeq(x.index), 0);
          const link = masterLink(
            down.has(master),
            mine.map((x) => replicaLag(c.ctx.pool.positions, x.index, undefined, pullWaitMs)),
          );
          return [
            'role:slave',
            `master_host:${host}`,
            `master_port:${port + config.server.resp_port_offset}`,
            `master_link_status:${link.down ? 'down' : 'up'}`,
            ...(link.down ? [`master_link_down_since_seconds:${link.downSinceSeconds}`] : []),
            `slave_repl_offset:${ack}`,
            'slave_read_only:1',
            'connected_slaves:0',
          ];
        })();
  return [
    [
      'Server',
      [
        `redis_version:${SERVER_VERSION}`,
        'redis_mode:cluster',
        `os:${platform()}`,
        `arch_bits:${arch().endsWith('64') ? 64 : 32}`,
        `process_id:${process.pid}`,
        `tcp_port:${listener.port + config.server.resp_port_offset}`,
        `uptime_in_seconds:${Math.floor((Date.now() - c.ctx.startedAt) / 1000)}`,
        'server_name:distkv',
      ],
    ],
    // The process's connections, HTTP and RESP (as Redis counts all its clients, replicas too).
    // blocked_clients and total_connections_received count this listener's RESP clients only:
    // redis-cli --stat reads them (and printed -2^63 while they were missing).
    [
      'Clients',
      [
        `connected_clients:${connections.open}`,
        `blocked_clients:${c.ctx.stats.blocked}`,
        `maxclients:${connections.max}`,
      ],
    ],
    [
      'Memory',
      [
        // The main thread's heap and the stores' memory (memBytes in /stats: memtables, block
        // caches, replication logs, WAL buffers, docs/operations.md "Memory"); the heap alone said
        // a few MB of a process whose memtables held GBs. The workers' own heaps are in RSS only.
        `used_memory:${mem.heapUsed + storesMemory(stats)}`,
        `used_memory_rss:${mem.rss}`,
        'maxmemory:0',
        `mem_clients_normal:${connections.unsent.total}`,
      ],
    ],
    [
      'Stats',
      [
        `total_connections_received:${c.ctx.stats.connections}`,
        `total_commands_processed:${c.ctx.stats.commands}`,
        `rejected_connections:${connections.refused}`,
        `client_output_buffer_limit_disconnections:${connections.closedStalled}`,
        `evicted_clients:${connections.unsent.evicted}`,
        `total_error_replies:${c.ctx.stats.errors.total}`,
      ],
    ],
    [
      'Persistence',
      [
        // While the node starts, as Redis while it loads its dataset: clients (ioredis's ready
        // check) wait for loading:0, asking again after loading_eta_seconds (1 s without it).
        ...(c.ctx.loading?.() === true
          ? loadingLines(c.ctx.startedAt, c.ctx.replayProgress?.())
          : ['loading:0']),
        'async_loading:0',
        `aof_enabled:${config.storage.engine === 'memory' ? 0 : 1}`,
        'rdb_bgsave_in_progress:0',
        'aof_rewrite_in_progress:0',
      ],
    ],
    ['Replication', replication],
    ['Cluster', ['cluster_enabled:1']],
    ['Keyspace', keyspaceLines(keyspace, disputedServed(c))],
  ];
}

/**
 * loadingLines are the persistence section's lines of a starting node, in redis-server's words and
 * formats (`loading_loaded_perc` with two decimals): the bytes of the commit logs replayed of those
 * to replay (src/server/start-progress.ts). `loading_eta_seconds` only when the node has a figure
 * measured from its rate: Redis writes a fixed 1 without one, and 0 near the end, on which ioredis
 * asks again at once; without the field it waits 1 s (docs/resp.md).
 */
function loadingLines(startedAt: number, p: ReplayProgressOfNode | undefined): string[] {
  return [
    'loading:1',
    `loading_start_time:${Math.floor(startedAt / 1000)}`,
    ...(p === undefined
      ? []
      : [
          `loading_total_bytes:${p.totalBytes}`,
          `loading_loaded_bytes:${p.loadedBytes}`,
          `loading_loaded_perc:${p.percent.toFixed(2)}`,
          ...(p.etaSeconds === undefined ? [] : [`loading_eta_seconds:${p.etaSeconds}`]),
        ]),
  ];
}

/**
 * keyspaceLines are the keyspace section: db0 while it holds keys (as Redis lists only those),
 * then the slots of the stores left out because they answer no reads, then the disputed slots counted.
 */
function keyspaceLines({ keys, expiries, heldSlots }: Keyspace, disputed: number): string[] {
  return [
    ...(keys > 0 ? [`db0:keys=${keys},expires=${expiries.expires},avg_ttl=${expiries.avgTtlMs}`] : []),
    ...(heldSlots > 0 ? [`held_slots:${heldSlots}`] : []),
    ...(disputed > 0 ? [`disputed_slots:${disputed}`] : []),
  ];
}

/** storesMemory sums the stores' `memBytes` (what each holds in memory: docs/operations.md, "Memory"). */
function storesMemory(stats: readonly StoreStatsReport[]): number {
  return stats.reduce((n, s) => n + (typeof s.stats.memBytes === 'number' ? s.stats.memBytes : 0), 0);
}

/**
 * masterLines are a master's replication section: `connected_slaves`, a `slaveN:` line per replica
 * connected to it (ip and RESP port, its state, offset and lag: replica-links.ts), and
 * `master_repl_offset`, the seqs of the leader stores it has here summed (a master leading several
 * shards has one log per shard; the sum moves with every write and a replica of all of them is
 * at this offset once it holds them all).
 */
function masterLines(
  c: RespConnection,
  led: readonly LedShard[],
  replicas: readonly ReplicaLink[],
): string[] {
  const offset = c.ctx.config.server.resp_port_offset;
  const seqs = led.reduce(
    (n, s) => n + (s.leaderStore === undefined ? 0 : c.ctx.pool.lastSeq(s.leaderStore)),
    0,
  );
  return [
    'role:master',
    `connected_slaves:${replicas.length}`,
    ...replicas.map((r, i) => {
      const [host, port] = splitHostPort(r.address);
      return `slave${i}:ip=${host},port=${port + offset},state=${r.state},offset=${r.offset},lag=${r.lagSeconds}`;
    }),
    `master_repl_offset:${seqs}`,
  ];
}

/** ledShards are the shards `led` (led by this listener's node) with their leader stores here. */
function ledShards(c: RespConnection, led: readonly ShardInfo[]): LedShard[] {
  const { plan, listener } = c.ctx;
  const storeOf = (node: string, idx: number): number | undefined =>
    plan.stores.find((x) => x.node === node && x.shard.idx === idx)?.index;
  return led.map((s) => ({
    idx: s.idx,
    leaderStore: storeOf(listener.address, s.idx),
    replicas: s.replicas,
    localReplicaStore: (r: string) => storeOf(r, s.idx),
  }));
}

function splitHostPort(address: string): [string, number] {
  const colon = address.lastIndexOf(':');
  return [address.slice(0, colon).replace(/^\[|\]$/g, ''), Number(address.slice(colon + 1))];
}
