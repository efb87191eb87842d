/**
 * HttpContext: what every route handler of a listener may use. Built once per process by the
 * server (src/server/node.ts); `listener` differs per listened address.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import type { EtcdIdentity, EtcdSplit } from '../coordination/etcd-cluster-check.js';
import type { ShardMap } from '../routing/shard-map.js';
import type { ConnectionLimit } from '../server/connection-limit.js';
import type { BehindLeaders } from '../server/behind-leaders.js';
import type { MapKeeper } from '../server/map-keeper.js';
import type { ListenerPlan, NodePlan } from '../server/node-plan.js';
import type { PeerCheck } from '../server/peer-check.js';
import type { SlotGate } from '../server/slot-gate.js';
import type { WorkerPool } from '../server/worker-pool.js';
import type { HttpMetrics } from './http-metrics.js';
import type { Forwarder } from './forwarder.js';
import type { ReplicaPulls } from './replica-pulls.js';

/** Phase is the node's lifecycle phase as /healthz reports it. */
export type Phase = 'starting' | 'serving' | 'draining';

/** NodeState is the node's mutable lifecycle state, shared by all listeners. */
export interface NodeState {
  phase: Phase;
  /** inFlight counts requests accepted and not yet answered (drain waits for zero). */
  inFlight: number;
}

/** SharedContext is the part of the context common to all listeners. */
export interface SharedContext {
  config: Config;
  /** shardMap routes keys to shards; its hash fingerprints the config (sharding.toml), not the live map. */
  shardMap: ShardMap;
  /** liveMap holds who leads each shard now (src/routing/live-map.ts). */
  liveMap: MapKeeper;
  /** behindLeaders holds back a leader here that started behind its replica, on an empty or older store (src/server/behind-leaders.ts). */
  behindLeaders?: BehindLeaders;
  plan: NodePlan;
  pool: WorkerPool;
  metrics: HttpMetrics;
  registry: Registry;
  state: NodeState;
  log: Logger;
  /** forwarder sends the parts of scans and batches that belong to other nodes. */
  forwarder: Forwarder;
  /** peers reports whether the other nodes of the config route with the same config hash. */
  peers: PeerCheck;
  /** slotGate holds the slots refused because a peer's config gives them another leader (peers.gate). */
  slotGate: SlotGate;
  /** etcdCluster is the etcd cluster the coordinator talks to and how its peers' compare (undefined: no coordinator). */
  etcdCluster?: () => { identity: EtcdIdentity | undefined; split: EtcdSplit } | undefined;
  /** proxy forwards single-key requests for other nodes' keys instead of redirecting (`--proxy`). */
  proxy: boolean;
  /** scheme is "https" when TLS is configured, else "http" (used in redirects). */
  scheme: 'http' | 'https';
  startedAt: number;
  /** connections counts the process's open HTTP and RESP connections against server.max_connections. */
  connections: ConnectionLimit;
  /** replicaPulls is what the leaders here heard of their replicas' pulls (/cluster's `leader_view`). */
  replicaPulls: ReplicaPulls;
}

/** HttpContext is the context of one listener. */
export interface HttpContext extends SharedContext {
  listener: ListenerPlan;
}
