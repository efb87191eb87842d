/**
 * RespContext: what the RESP commands of one listener may use. Built by the node (src/server/node.ts)
 * from the same pool, plan and shard map as the HTTP front door, so both protocols reach the same
 * stores through the same worker batches.
 */
import type { DistkvError } from '../errors.js';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { ShardInfo, ShardMap } from '../routing/shard-map.js';
import type { ConnectionLimit } from '../server/connection-limit.js';
import type { ListenerPlan, NodePlan } from '../server/node-plan.js';
import type { SlotGate } from '../server/slot-gate.js';
import type { WorkerPool } from '../server/worker-pool.js';
import type { ClientPause } from './client-pause.js';
import type { LeaderView } from '../http/replica-pulls.js';
import type { KeyspaceExpiries } from './keyspace-expiries.js';
import type { RespConnection } from './resp-connection.js';
import type { ErrorCounts } from './resp-metrics.js';
import type { ScanCursors } from './scan-cursors.js';
import type { TurnFlush } from './turn-flush.js';
import type { ReplayProgressOfNode } from '../server/start-progress.js';

/** RespContext is shared by every connection of one RESP listener. */
export interface RespContext {
  config: Config;
  /** shardMap is the config's map: slot ranges (which never move) and the config's members. */
  shardMap: ShardMap;
  /**
   * liveShards are the shards with their leaders and replicas now (the live map, moved by a failover;
   * src/routing/live-map.ts): what the cluster commands describe and which stores SCAN covers.
   */
  liveShards: () => readonly ShardInfo[];
  /**
   * liveEpochs are the shards' epochs in the live map, by shard idx: the cluster commands' config
   * epochs (cluster-figures.ts). Absent, every shard is at epoch 0 (the first map's).
   */
  liveEpochs?: () => ReadonlyMap<number, number>;
  /**
   * downNodes lists the other nodes of the config that did not answer this node's last peer check
   * (src/server/peer-check.ts, `unreachable`): the cluster commands report them failed. Absent,
   * no node is reported down.
   */
  downNodes?: () => ReadonlySet<string>;
  /**
   * checkPeerSoon asks the peer check to look at the node at `address` now rather than at its next
   * round (PeerCheck.checkSoon: at most once a second per peer): a key whose owner is in
   * `downNodes` asks it, so a leader that comes back is served again within about a second while
   * clients ask for its keys. Absent, nothing is asked.
   */
  checkPeerSoon?: (address: string) => void;
  /**
   * leaderView is what this process's leaders heard of replica `replica` of shard `shard`: its pulls
   * and snapshot streams (src/http/replica-pulls.ts), for INFO replication's replica states
   * (replica-links.ts). Absent, no replica elsewhere is known to resync.
   */
  leaderView?: (shard: number, replica: string) => LeaderView;
  plan: NodePlan;
  pool: WorkerPool;
  log: Logger;
  /** listener is the node this RESP listener speaks for (its routing tables). */
  listener: ListenerPlan;
  startedAt: number;
  /** cursors are this listener's open SCAN cursors. */
  cursors: ScanCursors;
  /** leaderWithoutLease tells whether a store of role `role` leads shard `idx` here without its lease (map-keeper.ts). */
  leaderWithoutLease: (role: 'leader' | 'replica', idx: number) => boolean;
  /**
   * readsHeld tells whether a store of role `role` here must not answer reads of shard `idx`: a
   * leader whose writes a failover holds (map-keeper.ts). Absent, none is held.
   */
  readsHeld?: (role: 'leader' | 'replica', idx: number) => boolean;
  /** behindError is the LEADER_BEHIND refusal of shard `idx` when its leader here started behind a replica (map-keeper.ts). */
  behindError?: (idx: number) => DistkvError | undefined;
  /**
   * slotGate holds the slots refused because a peer's config gives them another leader
   * (src/server/slot-gate.ts): commands on their keys get `-TRYAGAIN`. Absent, none is refused.
   */
  slotGate?: SlotGate;
  /**
   * loading is true while the node starts (its stores are opening): only the commands Redis runs
   * while it loads its dataset (the `loading` flag: HELLO, AUTH, CLIENT, INFO, COMMAND, ...) run,
   * the others answer `-LOADING` (command-dispatch.ts). Absent, the node is never loading.
   */
  loading?: () => boolean;
  /**
   * replayProgress is how far the starting node has replayed its commit logs (INFO's `loading_*`
   * fields, src/server/start-progress.ts). Absent, INFO says only `loading:1` while loading.
   */
  replayProgress?: () => ReplayProgressOfNode;
  /** draining is true once the node stops accepting: commands on keys are refused with TRYAGAIN. */
  draining: () => boolean;
  /** nextClientId numbers connections (CLIENT ID); shared by the process's listeners. */
  nextClientId: () => number;
  /** turnFlush writes this listener's connections' worker replies once per event-loop turn. */
  turnFlush: TurnFlush;
  /** connections counts the process's open HTTP and RESP connections against server.max_connections. */
  connections: ConnectionLimit;
  /** stats counts what this listener's connections did (INFO's Stats section). */
  stats: RespStats;
  /** expiries counts the keys with an expiry for INFO keyspace (keyspace-expiries.ts). */
  expiries: KeyspaceExpiries;
  /** clients lists this listener's open connections, oldest first (CLIENT LIST). */
  clients: () => Iterable<RespConnection>;
  /** pause is this listener's CLIENT PAUSE (client-pause.ts). */
  pause: ClientPause;
}

/** RespStats are a listener's counters, as Redis's INFO stats names them. */
export interface RespStats {
  /** commands counts the commands executed (total_commands_processed). */
  commands: number;
  /** connections counts the connections this listener accepted (total_connections_received). */
  connections: number;
  /** blocked counts this listener's connections waiting in WAIT or held by CLIENT PAUSE (blocked_clients). */
  blocked: number;
  /**
   * calls counts the commands run by CommandSpec.index (commandstats), the last place those of an
   * unknown name; `commands` also counts what MULTI refused (resp-metrics.ts).
   */
  calls: Float64Array;
  /** errors counts the error replies by code (errorstats, total_error_replies). */
  errors: ErrorCounts;
}
