/**
 * One process's EtcdCoordinator for an integration test, over fakes of what it drives: a map keeper
 * that adopts every map it is offered (`offered` may act on it first) and holds the store behind when the test says so, and a worker pool hosting
 * one store whose seq and worker answers the test gives. `oneShardConfig` is the config of one
 * shard (a leader and its replicas) coordinated by a test etcd (test/helpers/etcd.ts).
 */
import { after } from 'node:test';
import pino, { type Logger } from 'pino';
import { parseConfigText } from '../../src/config/load-config.js';
import type { Config } from '../../src/config/schema.js';
import { type CoordinatedKeeper, EtcdCoordinator } from '../../src/coordination/etcd-coordinator.js';
import { Positions } from '../../src/replication/positions.js';
import { initialLiveMap, type LiveMap } from '../../src/routing/live-map.js';
import type { BehindReplica } from '../../src/server/map-keeper.js';
import type { NodePlan } from '../../src/server/node-plan.js';
import type { PeerView } from '../../src/server/peer-check.js';
import { StoreHolds } from '../../src/server/store-holds.js';
import type { WorkerPool } from '../../src/server/worker-pool.js';
import type { StoreSpec, ToWorker } from '../../src/worker/messages.js';
import { inDir } from './replication-host.js';
import { tempDir } from './temp-dir.js';

/** oneShardConfig is shard-0 led by `leader` with `replicas`, coordinated by etcd at `etcdUrl` under `cluster`. */
export function oneShardConfig(
  etcdUrl: string,
  cluster: string,
  ttlMs: number,
  leader: string,
  replicas: readonly string[],
): Config {
  return parseConfigText(
    `[[shards]]\nname = "shard-0"\nidx = 0\naddress = "${leader}"\nreplicas = [${replicas.map((r) => `"${r}"`).join(', ')}]\n` +
      `[coordination]\netcd = ["${etcdUrl}"]\nlease_ttl_ms = ${ttlMs}\ncluster = "${cluster}"\n`,
    't.toml',
    {},
    {},
  );
}

/** HostedStoreFake is the store the fake pool hosts: its role and node, its seq, and its worker's answers. */
export interface HostedStoreFake {
  role: StoreSpec['role'];
  node: string;
  lastSeq: () => number;
  /** call answers a message to the store's worker (default: a fence answered with `lastSeq`). */
  call?: (msg: ToWorker) => Promise<unknown>;
  /** behind is the replica the store, as its shard's leader, is held behind (default: none; map-keeper.ts). */
  behind?: () => BehindReplica | undefined;
}

/**
 * testCoordinator is a coordinator for `config` over the fakes above; `offered` sees each map before
 * it is adopted, and `peers` is what its peer checks last saw of the other nodes (default: none).
 */
export function testCoordinator(
  config: Config,
  cluster: string,
  store: HostedStoreFake,
  offered: (map: LiveMap) => Promise<void> = () => Promise.resolve(),
  log: Logger = pino({ level: 'silent' }),
  peers: () => readonly Pick<PeerView, 'address' | 'state'>[] = () => [],
): EtcdCoordinator {
  let current: LiveMap = initialLiveMap(config.shards);
  const spec = { ...inDir(tempDir(after), store.role), node: store.node, worker: 0 };
  const plan = { stores: [spec], listeners: [], storesByWorker: [[spec]], workers: 1 } as unknown as NodePlan;
  const fence = () => Promise.resolve({ type: 'fence-result', id: 0, ok: true, lastSeq: store.lastSeq() });
  const pool = {
    storeFailure: () => undefined,
    storeError: () => undefined,
    positions: new Positions(new SharedArrayBuffer(Positions.bytesFor(1))),
    lastSeq: store.lastSeq,
    call: (_worker: number, msg: ToWorker) => (store.call ?? fence)(msg),
  } as unknown as WorkerPool;
  const keeper: CoordinatedKeeper = {
    holds: new StoreHolds(() => pool),
    get current() {
      return current;
    },
    behindOf: () => store.behind?.(),
    offer: async (doc: unknown) => {
      const m = doc as LiveMap;
      current = m;
      await offered(m);
      return true;
    },
  };
  return new EtcdCoordinator(config, keeper, plan, pool, log, cluster, peers);
}
