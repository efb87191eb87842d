/**
 * The HttpContext of a serving `--proxy` node whose one shard another node leads: for tests that
 * run the key and batch routes (a real HTTP/1 server, router-server.ts) with a twin as the owner.
 */
import type { HttpContext } from '../../src/http/context.js';
import type { Forwarder } from '../../src/http/forwarder.js';
import { ShardMap } from '../../src/routing/shard-map.js';
import { SlotGate } from '../../src/server/slot-gate.js';

/** OwnerTarget is where the node sends the shard's requests; a test may change `address` between requests. */
export interface OwnerTarget {
  local: false;
  address: string;
}

/** remoteShardContext is the context of a node that forwards shard 0 (all slots) to `target` with `forwarder`. */
export function remoteShardContext(target: OwnerTarget, forwarder: Forwarder): HttpContext {
  return {
    config: { server: { max_key_bytes: 64, max_value_bytes: 1024 } },
    state: { phase: 'serving' },
    listener: { writes: [target], reads: [target] },
    shardMap: new ShardMap([
      { name: 'shard-0', idx: 0, address: target.address, replicas: [], slots: { first: 0, last: 16383 } },
    ]),
    liveMap: {
      writesFenced: () => false,
      behindError: () => undefined,
      leaderWithoutLease: () => false,
      current: { version: 1, shards: [] },
    },
    peers: { refusedBy: () => undefined },
    forwarder,
    proxy: true,
    scheme: 'http',
    slotGate: new SlotGate('cfg'),
  } as unknown as HttpContext;
}
