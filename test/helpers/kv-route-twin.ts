/**
 * The HttpContext twin of a node serving the key routes (src/http/kv-routes.ts) without workers or
 * peers: every shard led here unless the test says otherwise, a live map that fences nothing and
 * holds nothing, and a pool whose `submit` is the test's. Tests of what a route answers before or
 * around a store (refusals, parameters, a leader moved mid-body) build it with what they vary.
 */
import type { HttpContext, Phase } from '../../src/http/context.js';
import { ShardMap } from '../../src/routing/shard-map.js';
import type { Target } from '../../src/server/node-plan.js';
import { SlotGate } from '../../src/server/slot-gate.js';

/** HERE is a target served by this node's first store, as its leader. */
export const HERE: Target = { local: true, worker: 0, store: 0, role: 'leader', leaderStore: 0 };

/** ONE_SHARD is a cluster of one shard holding every slot, without replicas. */
export const ONE_SHARD = new ShardMap([
  { name: 'shard-0', idx: 0, address: 'here', replicas: [], slots: { first: 0, last: 16383 } },
]);

/** KvTwinParts are what a test gives the twin; the rest takes the defaults above. */
export interface KvTwinParts {
  /** submit is the worker pool's (src/server/worker-pool.ts): the test answers through its handler. */
  submit: (...args: never[]) => void;
  shardMap?: ShardMap;
  state?: { phase: Phase };
  /** listener defaults to HERE for every shard, reads and writes. */
  listener?: { writes: Target[]; reads: Target[] };
  /** liveMap's members replace the defaults one by one. */
  liveMap?: Record<string, unknown>;
}

/** kvTwinContext is the context of `parts` (see the design block). */
export function kvTwinContext(parts: KvTwinParts): HttpContext {
  const shardMap = parts.shardMap ?? ONE_SHARD;
  const here = shardMap.shards.map(() => HERE);
  return {
    config: { server: { max_key_bytes: 64, max_value_bytes: 1024 } },
    state: parts.state ?? { phase: 'serving' },
    listener: parts.listener ?? { writes: here, reads: here },
    shardMap,
    liveMap: {
      writesFenced: () => false,
      behindError: () => undefined,
      leaderWithoutLease: () => false,
      current: { version: 1, shards: [] },
      ...parts.liveMap,
    },
    pool: { submit: parts.submit },
    proxy: false,
    scheme: 'http',
    slotGate: new SlotGate('cfg'),
  } as unknown as HttpContext;
}
