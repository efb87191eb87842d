/**
 * What the routing micro benchmarks share: the seed's 4-shard layout as a ShardMap, 1024 keys
 * spread over it, and the main thread's work for one GET before it reaches a worker (the reference
 * other per-request costs are compared with).
 */
import { do_not_optimize } from 'mitata';
import { checkKey } from '../../src/http/request-parse.js';
import { ShardMap } from '../../src/routing/shard-map.js';
import { RequestWriter } from '../../src/worker/op-codec.js';
import { OP_GET } from '../../src/worker/op-format.js';

/** USER_KEYS are 1024 16-byte keys `user:<10 digits>` (index them with `& 1023`). */
export const USER_KEYS: readonly string[] = Array.from(
  { length: 1024 },
  (_, i) => `user:${String(i * 7919).padStart(10, '0')}`,
);

/** seedShardMap is the seed's layout: 4 shards of 4096 slots each, leaders on 127.0.0.2-5. */
export function seedShardMap(): ShardMap {
  return new ShardMap(
    [0, 1, 2, 3].map((i) => ({
      name: `shard-${i}`,
      idx: i,
      address: `127.0.0.${i + 2}:8080`,
      replicas: [],
      slots: { first: i * 4096, last: i * 4096 + 4095 },
    })),
  );
}

/**
 * routeGet returns one GET's routing work as a bench body: check the next key of USER_KEYS, route
 * it to its shard in `map` and encode it into a batch, taken every 64 ops.
 */
export function routeGet(map: ShardMap): () => void {
  const writer = new RequestWriter();
  let i = 0;
  let id = 0;
  return () => {
    const key = USER_KEYS[i++ & 1023]!;
    checkKey(key, 1024);
    writer.add(++id, OP_GET, map.shardOf(key), key, undefined);
    if (writer.count >= 64) do_not_optimize(writer.take());
  };
}
