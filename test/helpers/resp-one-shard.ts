/**
 * A RespListener of one node leading one shard over a worker pool the test gives (a fake that
 * answers ops as it likes), on a free loopback port: for unit tests of the listener's connection
 * handling (drain at stop, loading at start) without workers or stores.
 */
import { validateConfig } from '../../src/config/validate-config.js';
import { ShardMap } from '../../src/routing/shard-map.js';
import { RespListener, type RespShared } from '../../src/resp/resp-listener.js';
import { ConnectionLimit } from '../../src/server/connection-limit.js';

/** ONE_SHARD_NODE is the node address of the one-shard config. */
export const ONE_SHARD_NODE = '127.0.0.1:7001';

/** ONE_SHARD_CONFIG is a config of one shard led by ONE_SHARD_NODE. */
export const ONE_SHARD_CONFIG = validateConfig(
  { shards: [{ name: 'shard-0', idx: 0, address: ONE_SHARD_NODE }] },
  '<test>',
);

const LOCAL = { local: true, worker: 0, store: 0, role: 'leader', leaderStore: undefined } as const;

/**
 * oneShardListener returns a (not yet listening) RespListener on `port` whose ops go to `pool`;
 * `extra` replaces or adds fields of its shared context (e.g. `loading`).
 */
export function oneShardListener(
  pool: unknown,
  port: number,
  extra: Record<string, unknown> = {},
): RespListener {
  let ids = 0;
  const shared = {
    config: ONE_SHARD_CONFIG,
    shardMap: new ShardMap(ONE_SHARD_CONFIG.shards),
    liveShards: () => new ShardMap(ONE_SHARD_CONFIG.shards).shards,
    pool,
    plan: { listeners: [], stores: [], storesByWorker: [], workers: 1 },
    log: undefined,
    startedAt: Date.now(),
    nextClientId: () => ++ids,
    connections: new ConnectionLimit(100),
    leaderWithoutLease: () => false,
    ...extra,
  } as unknown as RespShared;
  return new RespListener(
    shared,
    { address: ONE_SHARD_NODE, host: '127.0.0.1', port: 7001, reads: [LOCAL], writes: [LOCAL] },
    { host: '127.0.0.1', port },
  );
}
