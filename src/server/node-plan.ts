/**
 * The node plan: given a config and the addresses this process hosts, which listeners to open,
 * which stores to run on which worker, and for each listener where every shard's reads and writes go.
 *
 * Placement rules (docs/architecture.md, "Processes, nodes and listeners"):
 *  - a store per (shard, hosted node): the leader where `address` is hosted, a replica for each
 *    hosted entry of `replicas`; its directory is `<data_dir>/<node>/<shard name>` (":" → "_");
 *  - stores are spread over workers; with two or more workers a replica never shares its leader's;
 *  - a write goes to the shard's leader: in-process if hosted here, else a redirect to its address;
 *  - a read at a replica's address is served by that replica; any other read by the leader if it is
 *    hosted here, else by any hosted replica, else a redirect to the leader.
 * Leaders and replicas come from the live map (src/routing/live-map.ts); when a later map moves a
 * shard's leader to another of its members, `applyLeaders` turns the stores' roles over in place (same
 * store, worker and directory) and rebuilds the routing tables.
 */
import { networkInterfaces, hostname } from 'node:os';
import { join } from 'node:path';
import { isLoopbackHost, parseAddress } from '../config/address.js';
import { hostKey } from '../config/host-key.js';
import type { Config } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import { ringBytesFor } from '../replication/ring-format.js';
import { type ShardInfo, ShardMap } from '../routing/shard-map.js';
import type { ReplicaSpec, StoreSpec } from '../worker/messages.js';

/** Target is where a request for one shard goes from one listener. */
export type Target =
  | {
      local: true;
      worker: number;
      store: number;
      role: 'leader' | 'replica';
      leaderStore: number | undefined;
    }
  | { local: false; address: string };

/** ListenerPlan is one listened address and its routing tables, indexed by shard idx. */
export interface ListenerPlan {
  address: string;
  host: string;
  port: number;
  reads: Target[];
  writes: Target[];
}

/** NodePlan is everything this process runs. */
export interface NodePlan {
  listeners: ListenerPlan[];
  stores: (StoreSpec & { worker: number })[];
  storesByWorker: StoreSpec[][];
  workers: number;
}

/** localAddresses lists the IP addresses of this machine's interfaces, as host keys (host-key.ts). */
export function localAddresses(): Set<string> {
  const out = new Set<string>(['localhost', hostKey(hostname())]);
  for (const list of Object.values(networkInterfaces()))
    for (const i of list ?? []) out.add(hostKey(i.address));
  return out;
}

/** configNodes lists every node address the config names, leaders first, in config order. */
export function configNodes(config: Config): string[] {
  const nodes: string[] = [];
  for (const s of config.shards) if (!nodes.includes(s.address)) nodes.push(s.address);
  for (const s of config.shards) for (const r of s.replicas) if (!nodes.includes(r)) nodes.push(r);
  return nodes;
}

/** selectNodes picks the nodes to host: the given ones (checked against the config) or every local one. */
export function selectNodes(
  config: Config,
  requested: readonly string[],
  local: Set<string> = localAddresses(),
): string[] {
  const all = configNodes(config);
  if (requested.length > 0) {
    const unknown = requested.filter((n) => !all.includes(n));
    if (unknown.length > 0) {
      throw new ConfigError(
        config.source,
        unknown.map((n) => `--node ${n}: not a node of this config (nodes: ${all.join(', ')})`),
      );
    }
    return [...new Set(requested)];
  }
  // Compared as host keys: a node written `[0::1]:8080` is on this machine as `[::1]:8080` is.
  const hosted = all.filter((n) => {
    const a = parseAddress(n);
    if (typeof a === 'string') return false;
    const host = hostKey(a.host);
    return isLoopbackHost(host) || local.has(host) || host === '0.0.0.0';
  });
  if (hosted.length === 0) {
    throw new ConfigError(config.source, [
      `no node of this config is on this machine (nodes: ${all.join(', ')}); pick one with --node`,
    ]);
  }
  return hosted;
}

/** planNode builds the plan for hosting `nodes` with `workers` worker threads; `shards` are the live leaders (default: the config's). */
export function planNode(
  config: Config,
  nodes: readonly string[],
  requestedWorkers: number,
  repair = false,
  shards: readonly ShardInfo[] = config.shards,
): NodePlan {
  let storeCount = 0;
  for (const s of shards) {
    if (nodes.includes(s.address)) storeCount++;
    storeCount += s.replicas.filter((r) => nodes.includes(r)).length;
  }
  // No more workers than stores: an idle worker only costs memory.
  const workers = Math.max(1, Math.min(requestedWorkers, storeCount));
  const stores: (StoreSpec & { worker: number })[] = [];
  const configHash = new ShardMap(config.shards).hash;
  const leaderOf = new Map<number, StoreSpec & { worker: number }>();
  const storeSpec = (shardIdx: number, role: 'leader' | 'replica', node: string): StoreSpec => {
    const s = shards[shardIdx]!;
    return {
      index: stores.length,
      shard: { idx: s.idx, name: s.name, first: s.slots.first, last: s.slots.last },
      role,
      node,
      dir: join(config.server.data_dir, node.replaceAll(':', '_').replaceAll(/[[\]]/g, ''), s.name),
      engine: config.storage.engine,
      durability: config.storage.durability,
      fsyncIntervalMs: config.storage.fsync_interval_ms,
      lsm: {
        memtableBytes: config.storage.memtable_bytes,
        maxRuns: config.storage.max_runs,
        walSegmentBytes: config.storage.wal_segment_bytes,
        walRetentionBytes: config.storage.wal_retention_bytes,
        ringBytes: config.replication.ring_bytes,
        blockCacheBytes: config.storage.block_cache_bytes,
      },
      repair,
    };
  };
  // Leaders round-robin over workers, then replicas, each skipping its leader's worker.
  let next = 0;
  for (const s of shards) {
    if (!nodes.includes(s.address)) continue;
    const spec = { ...storeSpec(s.idx, 'leader', s.address), worker: next++ % workers };
    stores.push(spec);
    leaderOf.set(s.idx, spec);
  }
  for (const s of shards) {
    for (const r of s.replicas) {
      if (!nodes.includes(r)) continue;
      let worker = next++ % workers;
      const leader = leaderOf.get(s.idx);
      if (leader !== undefined && workers > 1 && worker === leader.worker) worker = next++ % workers;
      // A leader on another worker of this process feeds the replica through a SharedArrayBuffer ring.
      const ring =
        leader !== undefined && leader.worker !== worker
          ? new SharedArrayBuffer(ringBytesFor(config.replication.ring_bytes))
          : undefined;
      const replicaIndex = stores.length;
      if (ring !== undefined && leader !== undefined)
        (leader.rings ??= []).push({ buffer: ring, replicaStore: replicaIndex, replicaNode: r });
      stores.push({
        ...storeSpec(s.idx, 'replica', r),
        worker,
        replication: {
          ...replicaSpec(config, configHash, s.address, leader?.index),
          ...(ring === undefined ? {} : { ring }),
        },
      });
    }
  }
  const storesByWorker: StoreSpec[][] = Array.from({ length: workers }, () => []);
  for (const st of stores) storesByWorker[st.worker]!.push(st);
  const listeners = nodes.map((address): ListenerPlan => {
    const parsed = parseAddress(address);
    if (typeof parsed === 'string') throw new ConfigError(config.source, [`node ${address}: ${parsed}`]);
    return { address, host: parsed.host, port: parsed.port, reads: [], writes: [] };
  });
  const plan = { listeners, stores, storesByWorker, workers };
  routeTables(plan, shards);
  return plan;
}

function replicaSpec(
  config: Config,
  configHash: string,
  leaderAddress: string,
  leaderStore: number | undefined,
): ReplicaSpec {
  return {
    leaderAddress,
    leaderStore,
    token: config.server.token,
    scheme: config.server.tls_cert === '' ? 'http' : 'https',
    tlsCa: config.server.tls_ca,
    pullMaxBytes: config.replication.pull_max_bytes,
    pullWaitMs: config.replication.pull_wait_ms,
    configHash,
  };
}

/** RoleChange is a hosted store whose role `applyLeaders` changed; `spec` is its updated spec. */
export interface RoleChange {
  spec: StoreSpec & { worker: number };
  from: 'leader' | 'replica';
}

/**
 * applyLeaders gives every hosted store the role `shards` assigns it (leader where its node leads the
 * shard, else replica following that leader over HTTP: rings only run in the direction planned at
 * start), rebuilds the routing tables in place and returns the stores whose role changed.
 */
export function applyLeaders(plan: NodePlan, config: Config, shards: readonly ShardInfo[]): RoleChange[] {
  const configHash = new ShardMap(config.shards).hash;
  const changes: RoleChange[] = [];
  for (const st of plan.stores) {
    const s = shards[st.shard.idx]!;
    const role = st.node === s.address ? 'leader' : 'replica';
    const leader = plan.stores.find((x) => x.shard.idx === s.idx && x.node === s.address);
    const leaderAddress = st.replication?.leaderAddress;
    if (role === st.role && (role === 'leader' || leaderAddress === s.address)) continue;
    const from = st.role;
    st.role = role;
    delete st.rings;
    if (role === 'leader') delete st.replication;
    else st.replication = replicaSpec(config, configHash, s.address, leader?.index);
    changes.push({ spec: st, from });
  }
  routeTables(plan, shards);
  return changes;
}

/** routeTables (re)builds every listener's reads and writes tables from the stores' roles. */
function routeTables(
  plan: Omit<NodePlan, 'listeners'> & { listeners: ListenerPlan[] },
  shards: readonly ShardInfo[],
): void {
  const { stores } = plan;
  const leaderOf = new Map<number, StoreSpec & { worker: number }>();
  for (const st of stores) if (st.role === 'leader') leaderOf.set(st.shard.idx, st);

  const localTarget = (st: StoreSpec & { worker: number }): Target => ({
    local: true,
    worker: st.worker,
    store: st.index,
    role: st.role,
    leaderStore: leaderOf.get(st.shard.idx)?.index,
  });
  const writes: Target[] = shards.map((s) => {
    const leader = leaderOf.get(s.idx);
    return leader ? localTarget(leader) : { local: false, address: s.address };
  });
  for (const l of plan.listeners) {
    l.writes = writes;
    l.reads = shards.map((s): Target => {
      const here = stores.find((st) => st.shard.idx === s.idx && st.node === l.address);
      if (here) return localTarget(here);
      const leader = leaderOf.get(s.idx);
      if (leader) return localTarget(leader);
      const anyReplica = stores.find((st) => st.shard.idx === s.idx);
      if (anyReplica) return localTarget(anyReplica);
      return { local: false, address: s.address };
    });
  }
}
