/**
 * Store gauges for /metrics, read from the workers' stats when Prometheus scrapes: every numeric
 * counter a store reports becomes `distkv_store_<counter>{shard,role,node}`.
 */
import { Gauge, type Registry } from 'prom-client';
import type { StoreSpec } from '../worker/messages.js';
import type { WorkerPool } from './worker-pool.js';

const HELP = {
  keys: 'live keys in the store (approximate for LSM stores: versions not yet compacted count once per level)',
  bytes: 'bytes the store occupies on disk',
  lastSeq: 'sequence number of the last acknowledged write',
  appliedSeq: 'LSM: every write up to this seq is in LMDB',
  walSegments: 'LSM: WAL segment files',
  walBytes: 'LSM: bytes in WAL segments',
  walSyncs: 'LSM: WAL fdatasync calls (one per group commit in fsync mode)',
  walSyncMsAvg: 'LSM: average WAL fdatasync time in milliseconds',
  walFailures: 'LSM: WAL batches refused because a write or sync failed',
  memtableBytes: 'LSM: approximate bytes held by the active memtable',
  frozenMemtables: 'LSM: memtables waiting to be flushed',
  runs: 'LSM: SSTable runs',
  runBytes: 'LSM: bytes in SSTable runs',
  bloomChecks: 'LSM: bloom filter lookups',
  bloomNegatives: 'LSM: bloom filter lookups that ruled a run out',
  bloomFalsePositives: 'LSM: bloom filter lookups that said maybe for an absent key',
  flushes: 'LSM: memtables flushed to runs',
  compactions: 'LSM: compactions of runs into LMDB',
  compactionMsTotal: 'LSM: total milliseconds spent compacting',
  lastCompactionMs: 'LSM: duration of the last compaction in milliseconds',
  writeStalls: 'LSM: writes that waited for a memtable flush',
  blockCacheHits: 'LSM: SSTable block reads served from the block cache',
  blockCacheMisses: 'LSM: SSTable block reads that went to the file',
  compactionFailures: 'LSM: failed compaction attempts (retried with backoff)',
  flushFailures: 'LSM: failed memtable flush attempts (retried with backoff)',
} as const;
const EXPORTED = Object.keys(HELP) as (keyof typeof HELP)[];

function metricName(counter: string): string {
  return `distkv_store_${counter.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`;
}

/** registerStoreMetrics adds the store gauges to `registry`. */
export function registerStoreMetrics(
  registry: Registry,
  pool: WorkerPool,
  stores: readonly StoreSpec[],
): void {
  // One stats round per scrape, shared by all gauges (prom-client calls each gauge's collect).
  let round: Promise<Map<number, Record<string, number | string>>> | undefined;
  const load = (): Promise<Map<number, Record<string, number | string>>> => {
    round ??= pool
      .callAll({ type: 'stats' })
      .then((results) => {
        const m = new Map<number, Record<string, number | string>>();
        for (const r of results)
          if (r.type === 'stats-result') for (const s of r.stores) m.set(s.index, s.stats);
        return m;
      })
      .catch(() => new Map<number, Record<string, number | string>>())
      .finally(() => {
        setImmediate(() => (round = undefined));
      });
    return round;
  };
  for (const counter of EXPORTED) {
    new Gauge({
      name: metricName(counter),
      help: HELP[counter],
      labelNames: ['shard', 'role', 'node'],
      registers: [registry],
      async collect() {
        this.reset();
        const stats = await load();
        for (const st of stores) {
          const v = stats.get(st.index)?.[counter];
          if (typeof v === 'number') this.set({ shard: st.shard.name, role: st.role, node: st.node }, v);
        }
      },
    });
  }
}
