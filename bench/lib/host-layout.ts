/**
 * The default layout's stores for a ShardHost a bench drives on its own thread, without the main
 * thread and sockets (host-batch-cpu.ts, large-put-cpu.ts): `shards` leaders on one node and their
 * mirrored replicas on another, on one worker and so one commit log, with the default LSM sizes
 * a bench needs (64 MiB memtables and segments: no flush in a short run).
 */
import { join } from 'node:path';
import type { Durability } from '../../src/config/schema.js';
import type { StoreSpec } from '../../src/worker/messages.js';

/** SLOTS is the slot space the shards split evenly. */
export const SLOTS = 16384;

/** hostLayout answers the specs of `shards` leaders (indexes 0..shards-1) and their replicas under `dir`. */
export function hostLayout(dir: string, shards: number, durability: Durability): StoreSpec[] {
  const lsm = {
    memtableBytes: 64 << 20,
    maxRuns: 4,
    walSegmentBytes: 64 << 20,
    walRetentionBytes: 1 << 30,
    ringBytes: 8 << 20,
  };
  const shardOf = (i: number): { idx: number; name: string; first: number; last: number } => ({
    idx: i,
    name: `shard-${i}`,
    first: (i * SLOTS) / shards,
    last: ((i + 1) * SLOTS) / shards - 1,
  });
  const base = { engine: 'lsm' as const, durability, fsyncIntervalMs: 100, lsm, repair: false };
  const specs: StoreSpec[] = [];
  for (let i = 0; i < shards; i++)
    specs.push({
      ...base,
      index: i,
      shard: shardOf(i),
      role: 'leader' as const,
      node: '127.0.0.1:1',
      dir: join(dir, 'n1', `shard-${i}`),
    });
  for (let i = 0; i < shards; i++)
    specs.push({
      ...base,
      index: shards + i,
      shard: shardOf(i),
      role: 'replica' as const,
      node: '127.0.0.1:2',
      dir: join(dir, 'n2', `shard-${i}`),
      replication: {
        leaderAddress: '127.0.0.1:1',
        leaderStore: i,
        token: '',
        scheme: 'http' as const,
        tlsCa: '',
        pullMaxBytes: 1 << 20,
        pullWaitMs: 1000,
        configHash: '',
      },
    });
  return specs;
}
