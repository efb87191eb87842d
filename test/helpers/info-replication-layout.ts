/**
 * The layout of the INFO replication tests: node A leads both shards; R1 replicates both, R2
 * shard-1 only. The stores' routes (`targets`) do not matter to the replication section.
 */
import { validateConfig } from '../../src/config/validate-config.js';
import { ShardMap } from '../../src/routing/shard-map.js';

export const A = '127.0.0.1:7001';
export const R1 = '127.0.0.1:7002';
export const R2 = '127.0.0.1:7003';
export const config = validateConfig(
  {
    shards: [
      { name: 'shard-0', idx: 0, address: A, replicas: [R1], slots: '0-8191' },
      { name: 'shard-1', idx: 1, address: A, replicas: [R1, R2], slots: '8192-16383' },
    ],
  },
  '<test>',
);
export const shardMap = new ShardMap(config.shards);
export const targets = shardMap.shards.map((s) => ({ local: false, address: s.address }) as const);

/**
 * planStores are the stores of A's process: its two leaders (stores 0 and 1) and, with
 * `localReplicas`, R1's replicas of both shards (stores 2 and 3) in the same process.
 */
export function planStores(
  localReplicas: boolean,
): { index: number; node: string; role: string; shard: { idx: number } }[] {
  return [
    { index: 0, node: A, role: 'leader', shard: { idx: 0 } },
    { index: 1, node: A, role: 'leader', shard: { idx: 1 } },
    ...(localReplicas
      ? [
          { index: 2, node: R1, role: 'replica', shard: { idx: 0 } },
          { index: 3, node: R1, role: 'replica', shard: { idx: 1 } },
        ]
      : []),
  ];
}
