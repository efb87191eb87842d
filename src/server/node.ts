/**
 * DistkvNode: one distkv process. It hosts the nodes (addresses) picked from the config, runs their
 * stores on shard workers and serves them through the HTTP/1.1 front door (src/http/front-door.ts).
 *
 * Lifecycle: lock the data directory (data-dir-lock.ts: a live owner makes start fail) → mark it
 * running (run-marker.ts) → listen, HTTP then RESP
 * (exclusively: a port in use makes start fail; until the stores are open every request answers 503
 * "starting", every RESP data command `-LOADING`) → open stores on the workers → serve → on stop,
 * drain (node-drain.ts: hand the led shards over, stop accepting, let in-flight requests finish,
 * close stores, end workers, remove the running mark; within DRAIN_LIMIT_MS plus closing the stores).
 * A start that finds the mark of a run that stopped uncleanly in a lossy durability mode starts a new
 * epoch for every shard it leads before it serves (restart-epochs.ts).
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { boundLabel, isLoopbackHost } from '../config/address.js';
import type { EtcdCoordinator } from '../coordination/etcd-coordinator.js';
import type { Config } from '../config/schema.js';
import { readTlsFiles } from '../config/tls-files.js';
import type { NodeState, SharedContext } from '../http/context.js';
import { FrontDoor } from '../http/front-door.js';
import { HttpMetrics, registerConnectionMetrics } from '../http/http-metrics.js';
import { registerWatchMetrics } from '../watch/watch-metrics.js';
import { Forwarder } from '../http/forwarder.js';
import { ReplicaPulls } from '../http/replica-pulls.js';
import { COMMAND_NAMES } from '../resp/command-table.js';
import { RespListener } from '../resp/resp-listener.js';
import { registerRespMetrics } from '../resp/resp-metrics.js';
import { ConnectionLimit, REFUSE_LINGER_MAX } from './connection-limit.js';
import { fileReserve, fitConnections, openFileLimit } from './open-file-limit.js';
import { UnsentBudget } from './unsent-budget.js';
import { ShardMap } from '../routing/shard-map.js';
import { layoutOfShards } from '../routing/slot-dispute.js';
import { MapKeeper } from './map-keeper.js';
import { checkDataFormat } from './data-format.js';
import { DataDirLock } from './data-dir-lock.js';
import { drainNode } from './node-drain.js';
import { listenAddress } from './listen-address.js';
import { type NodePlan, planNode, selectNodes } from './node-plan.js';
import { clusterAsker } from './behind-confirm.js';
import { flagWatchedLeaders } from './behind-here.js';
import { BehindLeaders } from './behind-leaders.js';
import { PeerCheck } from './peer-check.js';
import { registerPeerMetrics } from './peer-metrics.js';
import { registerReplicationMetrics } from './replication-metrics.js';
import { startRestartEpochs } from './restart-epochs.js';
import { respListeners } from './resp-listeners.js';
import { RunMarker } from './run-marker.js';
import { warnIfAlone, warnIfUnclean } from './start-warnings.js';
import { warnOfLeftStores } from './left-stores.js';
import { registerStoreMetrics } from './store-metrics.js';
import { INLINE, WorkerPool } from './worker-pool.js';

/**
 * defaultWorkers is one worker per CPU beyond the one the main thread (the front door) keeps busy:
 * on 2 cores, 1 worker served 40k GET/s where 2 workers served 30k (the extra thread only adds
 * context switches and smaller batches; docs/performance.md has the runs).
 */
export function defaultWorkers(): number {
  return Math.max(1, availableParallelism() - 1);
}

/** NodeOptions are what `distkv serve` passes in. */
export interface NodeOptions {
  config: Config;
  /** nodes to host; empty = every node of the config on this machine. */
  nodes: readonly string[];
  log: Logger;
  /** workerEntry overrides the shard worker script (tests). */
  workerEntry?: URL;
  /** proxy forwards requests for keys owned elsewhere instead of answering 307 (`--proxy`). */
  proxy?: boolean;
  /** inline runs the stores on the main thread instead of worker threads (`--inline`). */
  inline?: boolean;
  /** listen binds the single hosted node here instead of its config address (`--listen`). */
  listen?: string;
  /** repair lets store recovery drop damaged data (reported) instead of refusing to start. */
  repair?: boolean;
}

/** DistkvNode is a running distkv process. */
export class DistkvNode {
  readonly plan: NodePlan;
  readonly state: NodeState = { phase: 'starting', inFlight: 0 };
  private readonly pool: WorkerPool;
  private readonly frontDoor: FrontDoor;
  private readonly log: Logger;
  private readonly forwarder: Forwarder;
  private readonly peers: PeerCheck;
  private readonly liveMap: MapKeeper;
  /** behindLeaders holds back a leader store that starts behind a replica of its shard (behind-leaders.ts). */
  private readonly behindLeaders: BehindLeaders;
  /** coordinator runs automatic failover when `[coordination] etcd` is set. */
  private readonly coordinator: EtcdCoordinator | undefined;
  private readonly scheme: 'http' | 'https';
  /** resp are the RESP listeners, one per hosted node (none when server.resp_port_offset = 0). */
  private readonly resp: readonly RespListener[];
  private readonly dataDir: string;
  /** lock is this process's hold on the data directory, from start until the stores are closed. */
  private lock: DataDirLock | undefined;
  /** marker says the directory is in use, from after the lock until the stores are closed (none for the memory engine). */
  private marker: RunMarker | undefined;
  private stopping: Promise<void> | undefined;

  private constructor(options: NodeOptions, Coordinator: typeof EtcdCoordinator | undefined) {
    const { config, log } = options;
    this.log = log;
    this.dataDir = config.server.data_dir;
    const nodes = selectNodes(config, options.nodes);
    this.liveMap = new MapKeeper(config, log);
    this.plan = planNode(
      config,
      nodes,
      options.inline === true ? 1 : config.server.workers === 0 ? defaultWorkers() : config.server.workers,
      options.repair === true,
      this.liveMap.shards(),
    );
    this.liveMap.stamp(this.plan.stores);
    if (options.listen !== undefined) {
      const bind = listenAddress(
        config,
        this.plan.listeners.map((l) => l.address),
        options.listen,
      );
      const l = this.plan.listeners[0]!;
      l.host = bind.host;
      l.port = bind.port;
      log.info({ node: l.address, listen: options.listen }, `node ${l.address} binds ${options.listen}`);
    }
    const entry =
      options.inline === true
        ? INLINE
        : (options.workerEntry ?? new URL('../../workers/shard-worker.js', import.meta.url));
    // A replica's leader that refused a pull as a node with another config does is asked at once.
    this.pool = new WorkerPool(this.plan.storesByWorker, entry, log, log.level, (leader, code) => {
      this.peers.refusedBy(leader, code);
    });
    const registry = new Registry();
    // The standard process_* and nodejs_* names, unprefixed, as dashboards expect them.
    collectDefaultMetrics({ register: registry });
    registerStoreMetrics(registry, this.pool, this.plan.stores);
    registerReplicationMetrics(registry, this.pool, this.plan.stores, config.replication.pull_wait_ms);
    registerWatchMetrics(registry, this.pool);
    const shardMap = new ShardMap(config.shards);
    const scheme = (this.scheme = config.server.tls_cert === '' ? 'http' : 'https');
    // Every TLS file, read and checked before anything listens: a bad one names its setting.
    const { ca } = readTlsFiles(config.server, config.source);
    const hosted = new Set(this.plan.listeners.map((l) => l.address));
    const others = [...new Set(config.shards.flatMap((s) => [s.address, ...s.replicas]))].filter(
      (a) => !hosted.has(a),
    );
    // A pull's claim holds a shard only on the replica's node's word (without a token anyone can pull).
    this.behindLeaders = new BehindLeaders(this.liveMap, this.pool, log, {
      ask: clusterAsker(others, scheme, ca, shardMap.hash),
      trustPulls: config.server.token !== '',
    });
    const coordinated = config.coordination.etcd.length > 0;
    // With a coordinator, etcd holds the live map: peers' maps are not adopted (etcd wins).
    this.peers = new PeerCheck(
      others,
      shardMap.hash,
      scheme,
      log,
      ca,
      coordinated ? undefined : (doc, from) => this.liveMap.offer(doc, from),
      () => layoutOfShards(this.liveMap.shards()),
      (doc) => this.behindLeaders.fromPeer(doc),
      [...hosted],
      config.server.token !== '',
    );
    registerPeerMetrics(registry, [...hosted], this.peers);
    if (Coordinator !== undefined) {
      this.coordinator = new Coordinator(
        config,
        this.liveMap,
        this.plan,
        this.pool,
        log,
        config.coordination.cluster === '' ? shardMap.hash : config.coordination.cluster,
        () => this.peers.view(),
        // Its first reconcile asks the peers for their etcd cluster before any campaign.
        () => this.peers.checkAll(),
      );
      this.liveMap.coordinate(this.coordinator);
    }
    // Client connections are fitted to the open-file limit, so a flood of them leaves the stores
    // the files they open (open-file-limit.ts).
    const fileLimit = openFileLimit();
    const fitted = fitConnections(
      config.server.max_connections,
      fileLimit,
      fileReserve({
        stores: this.plan.stores.length,
        workers: this.pool.size,
        maxRuns: config.storage.max_runs,
        refusing: REFUSE_LINGER_MAX,
      }),
    );
    if (fitted.lowered !== undefined)
      log.warn({ open_file_limit: fileLimit, max_connections: fitted.max }, fitted.lowered);
    const shared: SharedContext = {
      config,
      shardMap,
      liveMap: this.liveMap,
      behindLeaders: this.behindLeaders,
      plan: this.plan,
      pool: this.pool,
      metrics: new HttpMetrics(registry),
      registry,
      state: this.state,
      log,
      scheme,
      forwarder: (this.forwarder = new Forwarder(scheme, shardMap.hash, ca, {
        forwardMs: config.server.forward_timeout_ms,
        maxValueBytes: config.server.max_value_bytes,
      })),
      peers: this.peers,
      slotGate: this.peers.gate,
      etcdCluster: () => this.coordinator?.etcdCluster(),
      proxy: options.proxy === true,
      startedAt: Date.now(),
      replicaPulls: new ReplicaPulls(),
      connections: new ConnectionLimit(
        fitted.max,
        new UnsentBudget(config.server.max_unsent_bytes, (peer, unsent, total, max) => {
          log.warn(
            { peer, unsent_bytes: unsent, total_unsent_bytes: total, max_unsent_bytes: max },
            'closed the client holding the most unsent answer bytes: the total passed server.max_unsent_bytes',
          );
        }),
        fitted.lowered === undefined ? undefined : fileLimit,
      ),
    };
    registerConnectionMetrics(registry, shared.connections);
    registerRespMetrics(registry, () => this.resp, COMMAND_NAMES);
    this.frontDoor = new FrontDoor(shared);
    this.resp = respListeners(shared);
    if (config.server.token === '') {
      const exposed = this.plan.listeners.filter((l) => !isLoopbackHost(l.host));
      if (exposed.length > 0) {
        // The bound address (--listen) is the exposed one; the node's may be loopback.
        log.warn(
          { addresses: exposed.map((l) => boundLabel(l, l.address)) },
          'LISTENING ON A NON-LOOPBACK ADDRESS WITHOUT A TOKEN: anyone who can reach it can call /purge and internal endpoints; set server.token or DISTKV_TOKEN',
        );
      }
    }
  }

  /** start listens, opens every store and begins serving; it rejects (after cleaning up) if any step fails. */
  static async start(options: NodeOptions): Promise<DistkvNode> {
    // etcd's client (etcd3, gRPC, protobufjs) loads only where `[coordination] etcd` is set: it was
    // ~40% of the CPU of loading the serve command, on the path of every restart after a crash
    // (docs/performance.md, "Restart after a crash, idle and under load").
    const coordinator =
      options.config.coordination.etcd.length > 0
        ? (await import('../coordination/etcd-coordinator.js')).EtcdCoordinator
        : undefined;
    const node = new DistkvNode(options, coordinator);
    const t0 = performance.now();
    node.lock = DataDirLock.acquire(node.dataDir);
    const previous = node.lock.previousOwner;
    if (previous !== undefined)
      node.log.warn(
        { data_dir: node.dataDir, previous_pid: previous.pid },
        `took over the lock of ${node.dataDir} left by pid ${previous.pid}, which is no longer running`,
      );
    try {
      // Only the lock holder may look at (and on first start, mark) the directory's format.
      const empty = new Set<number>();
      if (options.config.storage.engine !== 'memory') {
        // Before any store opens (and creates its directory): the stores that start on nothing.
        for (const st of node.plan.stores) if (!existsSync(st.dir)) empty.add(st.index);
        checkDataFormat(
          node.dataDir,
          node.plan.stores.map((st) => st.dir),
        );
        node.marker = RunMarker.open(node.dataDir, options.config.storage.durability);
        warnIfUnclean(node.log, node.dataDir, node.marker);
        warnOfLeftStores(
          node.log,
          node.dataDir,
          node.plan.stores.map((st) => st.dir),
        );
      }
      const lossy = node.marker?.lossy === true;
      // Before the workers start: a replica on its leader's worker pulls as it opens (behind-here.ts).
      if (options.config.storage.engine !== 'memory') flagWatchedLeaders(node.plan.stores, empty, lossy);
      await node.frontDoor.listen();
      // Requests are answered from now on, but with 503 until the stores are open ("serving" below).
      for (const l of node.plan.listeners)
        node.log.info(
          { address: l.address },
          `listening on ${node.scheme}://${l.host}:${l.port} as node ${l.address} (stores opening: 503 until serving)`,
        );
      // RESP too, before the stores open (which can take seconds after a crash): peers that count
      // this node up send their clients -MOVED here, and a refused connection is an error there,
      // where -LOADING until serving is what a Redis client waits out (RespContext.loading).
      for (const r of node.resp) {
        await r.listen();
        node.log.info(
          { address: r.address },
          `RESP (Redis protocol) on redis://${r.endpoint.host}:${r.endpoint.port} for node ${r.address} (stores opening: -LOADING until serving)`,
        );
      }
      await node.pool.start();
      node.liveMap.attach(node.plan, node.pool);
      // Before the peer round, which may show a replica ahead of a leader here (behind-leaders.ts),
      // and so may a replica in this process (behind-here.ts). With the memory engine every store
      // starts empty by design: none is watched. With etcd, once its map is adopted: this node's
      // own map is the one it stopped with, and a former leader that a failover replaced while it
      // was down would find the new leader's records "ahead" of it and be held as put back from an
      // older copy (the coordinator's first reconcile reads the peers before it adopts the map).
      // Pulls heard meanwhile wait for the watch.
      const persistent = options.config.storage.engine !== 'memory';
      const watchStores = async (): Promise<void> => {
        node.behindLeaders.watch(persistent ? node.plan.stores : [], empty, lossy);
        await node.behindLeaders.fromHere();
      };
      // A node that was down learns a newer live map (from etcd, else from its peers) before it
      // takes a write; with etcd it also takes the leader keys it is due.
      // After an unclean stop that may have lost records readers saw, the shards it leads start a
      // new epoch first (with etcd, allocated there as it takes their leader keys).
      // Either way a peer round runs before it serves: a peer whose config gives some slots another
      // leader has them refused from the first request (slot-gate.ts).
      // A config that removes a shard's leader is refused once they told no newer map (removed-leaders.ts).
      if (node.coordinator !== undefined) {
        await node.coordinator.start(lossy);
        await watchStores();
        await node.peers.checkAll();
        node.liveMap.refuseRemovedLeaders();
        node.liveMap.saveRefit();
      } else {
        await watchStores();
        await node.peers.checkAll();
        node.liveMap.refuseRemovedLeaders();
        node.liveMap.saveRefit();
        warnIfAlone(node.log, node.peers, node.liveMap.current.version);
        if (lossy) await startRestartEpochs(node.liveMap, node.plan, node.pool, node.log);
      }
      // A peer's map may have made a watched store here the leader of a shard a replica here holds.
      await node.behindLeaders.fromHere();
    } catch (err) {
      node.behindLeaders.stop();
      await node.coordinator?.stop();
      for (const r of node.resp) r.close();
      node.frontDoor.close();
      const closed = await node.pool.stop();
      // The mark stays when a store did not close cleanly or the new epochs a lossy stop owes are not started.
      if (closed && node.marker?.lossy === false) node.marker.close(node.log);
      node.lock.release();
      throw err;
    }
    for (const st of node.plan.stores) {
      const worker = node.pool.workerName(st.worker);
      const failure = node.pool.storeFailure(st.index);
      if (failure !== undefined) {
        node.log.error(
          {
            shard: st.shard.name,
            role: st.role,
            node: st.node,
            worker,
            dir: st.dir,
            err: failure.message,
          },
          `store ${st.shard.name} (${st.role}) on ${st.node} FAILED to open; it answers 503 until fixed (see the worker's error above for the stack)`,
        );
        continue;
      }
      node.log.info(
        {
          shard: st.shard.name,
          role: st.role,
          node: st.node,
          worker,
          slots: `${st.shard.first}-${st.shard.last}`,
          dir: st.dir,
        },
        `store ${st.shard.name} (${st.role}) on ${st.node} open ${worker === INLINE ? 'on the main thread (inline)' : `on worker ${worker}`}`,
      );
    }
    node.state.phase = 'serving';
    node.peers.start();
    node.behindLeaders.start();
    node.log.info(
      { map_version: node.liveMap.current.version },
      `live map version ${node.liveMap.current.version}`,
    );
    node.log.info(
      { ms: Math.round(performance.now() - t0), workers: node.pool.size, stores: node.plan.stores.length },
      `serving on ${node.plan.listeners.map((l) => `${node.scheme}://${l.host}:${l.port}`).join(', ')}`,
    );
    return node;
  }

  /** stop drains and shuts down (node-drain.ts); calling it again returns the same promise. */
  stop(): Promise<void> {
    this.behindLeaders.stop();
    this.stopping ??= drainNode({
      state: this.state,
      plan: this.plan,
      pool: this.pool,
      liveMap: this.liveMap,
      frontDoor: this.frontDoor,
      resp: this.resp,
      peers: this.peers,
      coordinator: this.coordinator,
      forwarder: this.forwarder,
      marker: this.marker,
      lock: this.lock,
      log: this.log,
    });
    return this.stopping;
  }
}
