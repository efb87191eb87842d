/**
 * A stand-in RespConnection for unit tests of RESP command handlers: a real ReplyQueue (its `out`
 * holds the replies written at the head) on RESP2, plus the fields the handler under test reads.
 */
import { ClientPause } from '../../src/resp/client-pause.js';
import { COMMAND_NAMES } from '../../src/resp/command-table.js';
import { info } from '../../src/resp/commands-info.js';
import { ReplyQueue } from '../../src/resp/reply-queue.js';
import { ErrorCounts } from '../../src/resp/resp-metrics.js';
import type { RespConnection } from '../../src/resp/resp-connection.js';
import { validateConfig } from '../../src/config/validate-config.js';
import { ScanCursors } from '../../src/resp/scan-cursors.js';
import { ShardMap } from '../../src/routing/shard-map.js';
import { ConnectionLimit } from '../../src/server/connection-limit.js';

/**
 * fakeConnection returns a connection with a fresh ReplyQueue, `proto` 2 and `fields`; its
 * `ctx` (`fields.ctx`, or empty) gets the counters `dispatch` counts commands in and a CLIENT PAUSE.
 */
export function fakeConnection(fields: Record<string, unknown>): RespConnection {
  const queue = new ReplyQueue(
    () => undefined,
    () => undefined,
  );
  const stats = { commands: 0, connections: 0, blocked: 0, calls: new Float64Array(COMMAND_NAMES.length) };
  const ctx: Record<string, unknown> = {
    stats,
    pause: new ClientPause(),
    ...(fields.ctx as Record<string, unknown> | undefined),
  };
  // A stand-in pool whose stores all opened, unless it says otherwise (WorkerPool.storeFailure).
  const pool = ctx.pool as Record<string, unknown> | undefined;
  if (pool !== undefined && !('storeFailure' in pool)) ctx.pool = { ...pool, storeFailure: () => undefined };
  return { queue, proto: 2, ...fields, ctx } as unknown as RespConnection;
}

/**
 * fakeNodeConnection is a read-write connection (reads run at once) at the node `listener` names,
 * in a cluster of `config`'s shards whose live map is the config's, with `ctx` added to its context.
 */
export function fakeNodeConnection(
  config: unknown,
  shardMap: ShardMap,
  listener: Record<string, unknown>,
  ctx: Record<string, unknown>,
): RespConnection {
  return fakeConnection({
    readonly: false,
    readAtHead: (_p: unknown, read: () => void) => {
      read();
    },
    ctx: { config, shardMap, liveShards: () => shardMap.shards, listener, ...ctx },
  });
}

/** ONE_SHARD_NODE is the address of the node of `oneShardConnection`, which owns every slot. */
export const ONE_SHARD_NODE = '127.0.0.1:7001';

/**
 * oneShardConnection is an authenticated connection to a node of one shard that leads every slot
 * (store 0 on worker 0), its ops sent to `pool` (a stand-in WorkerPool with `submit`), a round of
 * 63 keys.
 */
export function oneShardConnection(pool: Record<string, unknown>): RespConnection {
  const config = validateConfig(
    { shards: [{ name: 'shard-0', idx: 0, address: ONE_SHARD_NODE, slots: '0-16383' }] },
    '<test>',
  );
  const local = { local: true, worker: 0, store: 0, role: 'leader', leaderStore: undefined } as const;
  return fakeConnection({
    authenticated: true,
    gone: false,
    roundKeys: 63,
    noteWrite: () => undefined,
    noteGathered: () => undefined,
    ctx: {
      config,
      shardMap: new ShardMap(config.shards),
      listener: { address: ONE_SHARD_NODE, host: '127.0.0.1', port: 7001, reads: [local], writes: [local] },
      pool,
      cursors: new ScanCursors(),
      draining: () => false,
      leaderWithoutLease: () => false,
      liveShards: () => new ShardMap(config.shards).shards,
    },
  });
}

/** takeReply returns (and empties) what `c`'s handlers wrote at the head of its replies. */
export function takeReply(c: RespConnection): string {
  return c.queue.out.take().toString('latin1');
}

/**
 * infoContext is the part of a node's context INFO reads that its tests do not vary: no clients or
 * commands yet, every lease held, no keys expiring. A test's own fields go after it.
 */
export function infoContext(): Record<string, unknown> {
  return {
    connections: new ConnectionLimit(100),
    startedAt: Date.now(),
    stats: { commands: 0, connections: 0, blocked: 0, errors: new ErrorCounts() },
    leaderWithoutLease: () => false,
    expiries: { count: () => Promise.resolve({ expires: 0, avgTtlMs: 0 }) },
  };
}

/** infoReply runs `INFO section` on `c` and returns its reply, once its stats round has answered. */
export async function infoReply(c: RespConnection, section: string): Promise<string> {
  info(c, [Buffer.from('INFO'), Buffer.from(section)]);
  await new Promise((resolve) => setImmediate(resolve));
  return takeReply(c);
}
