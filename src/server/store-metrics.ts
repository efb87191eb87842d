/**
 * Store metrics for /metrics, read from the workers' stats when Prometheus scrapes (one stats round
 * per scrape, shared by every family), labelled `{shard,role,node}`. Names follow Prometheus
 * conventions (docs/api.md lists them):
 *
 *  - gauges for levels (`distkv_store_keys`, `distkv_store_wal_bytes`, `distkv_store_last_seq`, ...);
 *  - counters, named `_total`, for what only grows (`distkv_store_wal_syncs_total`, ...). A store's
 *    own counters restart from zero when its worker restarts or a replica is rebuilt; MonotonicTotals
 *    folds each snapshot's increase in, so the exported counter never goes down within a process;
 *  - histograms, in seconds, for durations (`distkv_store_wal_sync_duration_seconds`, ...), from the
 *    stores' LatencyHistogram snapshots, folded the same way.
 *
 * A store whose worker does not answer (crashed, restarting) has no samples in that scrape.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { StoreSpec } from '../worker/messages.js';
import { type HistogramSnapshot, isHistogramSnapshot } from '../util/latency-histogram.js';
import { MonotonicTotals, ScrapedHistogram } from '../util/prom-snapshot.js';
import type { WorkerPool } from './worker-pool.js';

/** GAUGES map a stats field to its gauge name and help. */
const GAUGES = {
  keys: [
    'keys',
    'live keys; LSM stores: an upper bound, exact once compacted (a key with values in several levels counts once per level; a value deleted or expired since still counts in its level)',
  ],
  bytes: [
    'disk_bytes',
    "bytes of the store's own files (LMDB pages and, LSM, runs); its WAL is its worker's commit log, in wal_bytes",
  ],
  lastSeq: ['last_seq', 'sequence number of the last acknowledged write'],
  syncedSeq: ['synced_seq', 'LSM: every write up to this seq is fsynced in the WAL (durable)'],
  flushedSeq: [
    'flushed_seq',
    'LSM: every write up to this seq is in an SSTable run or LMDB; recovery replays the WAL above it',
  ],
  appliedSeq: ['applied_seq', 'LSM: every write up to this seq is in LMDB'],
  walSegments: [
    'wal_segments',
    "LSM: segment files of the store's worker's commit log (shared: every store of the worker reports the same)",
  ],
  walBytes: [
    'wal_bytes',
    "LSM: bytes written in the store's worker's commit log (shared: every store of the worker reports the same; a segment prepared ahead takes wal_segment_bytes on disk)",
  ],
  memtableBytes: ['memtable_bytes', 'LSM: approximate bytes held by the active memtable'],
  frozenMemtables: ['frozen_memtables', 'LSM: memtables waiting to be flushed'],
  runs: ['runs', 'LSM: SSTable runs'],
  runBytes: ['run_bytes', 'LSM: bytes in SSTable runs'],
  compactionRunning: ['compaction_running', 'LSM: 1 while a compaction runs'],
  dirLost: [
    'dir_lost',
    '1 once the store directory was removed or replaced while the node runs (writes refused with STORE_DIR_LOST)',
  ],
} as const;

/** COUNTERS map a stats field to its counter name (without `_total`) and help. */
const COUNTERS = {
  walBatches: [
    'wal_batches',
    "LSM: group-commit batches appended to the store's worker's commit log (shared: every store of the worker counts the same)",
  ],
  walSyncs: [
    'wal_syncs',
    "LSM: fdatasync calls of the store's worker's commit log (one per group commit in fsync mode; shared as wal_batches)",
  ],
  walFailures: [
    'wal_failures',
    "LSM: batches the store's worker's commit log refused because a write or sync failed (answered 507; shared as wal_batches)",
  ],
  walSyncRepairs: [
    'wal_sync_repairs',
    "LSM: failed fdatasyncs of the worker's commit log answered by writing the unsynced batches again (a second failure breaks the log; shared as wal_batches)",
  ],
  bloomChecks: ['bloom_checks', 'LSM: bloom filter lookups'],
  bloomNegatives: ['bloom_negatives', 'LSM: bloom filter lookups that ruled a run out'],
  bloomFalsePositives: [
    'bloom_false_positives',
    'LSM: bloom filter lookups that said maybe for an absent key',
  ],
  blockCacheHits: ['block_cache_hits', 'LSM: SSTable block reads served from the block cache'],
  blockCacheMisses: ['block_cache_misses', 'LSM: SSTable block reads from disk'],
  flushes: ['flushes', 'LSM: memtables flushed to runs'],
  compactions: ['compactions', 'LSM: compactions of runs into LMDB'],
  writeStalls: ['write_stalls', 'LSM: writes that waited for a memtable flush'],
  replicaErrors: ['replication_errors', 'replicas: failed pulls or applies (each retried with backoff)'],
  resyncs: ['replication_resyncs', 'replicas: rebuilds from a leader snapshot'],
  ringBatches: [
    'replication_ring_batches',
    'ring replicas (leader on another worker of this process): leader batches taken from the shared-memory ring',
  ],
  fallbackPulls: [
    'replication_fallback_pulls',
    "ring replicas: pulls the ring could not answer, read from the leader's log over HTTP (after a start, a lapped ring, a batch larger than the ring)",
  ],
  compactionFailures: [
    'compaction_failures',
    'LSM: failed compaction attempts (retried with capped backoff)',
  ],
  flushFailures: ['flush_failures', 'LSM: failed memtable flush attempts (retried with capped backoff)'],
  compactionsForRuns: ['compactions_for_runs', 'LSM: compactions started because runs exceeded max_runs'],
  compactionsForReads: [
    'compactions_for_reads',
    'LSM: compactions started because reads passed through runs',
  ],
  compactionsForIdle: ['compactions_for_idle', 'LSM: compactions started because the store was idle'],
} as const;

/** HISTOGRAMS map a stats field (a HistogramSnapshot) to its histogram name and help. */
const HISTOGRAMS = {
  walSyncSeconds: [
    'wal_sync_duration_seconds',
    "LSM: fdatasync duration of the store's worker's commit log (shared: every store of the worker has the same)",
  ],
  flushSeconds: ['flush_duration_seconds', 'LSM: duration of a memtable flush to a run'],
  compactionSeconds: ['compaction_duration_seconds', 'LSM: duration of a compaction of runs into LMDB'],
} as const;

const LABELS = ['shard', 'role', 'node'] as const;

type StatsByStore = Map<number, Record<string, unknown>>;

/** registerStoreMetrics adds the store families to `registry`. */
export function registerStoreMetrics(
  registry: Registry,
  pool: WorkerPool,
  stores: readonly StoreSpec[],
): void {
  // One stats round per scrape, shared by all families (prom-client collects them concurrently).
  let round: Promise<StatsByStore> | undefined;
  const load = (): Promise<StatsByStore> => {
    round ??= pool
      .callAll({ type: 'stats' })
      .then((results) => {
        const m: StatsByStore = new Map();
        for (const r of results)
          if (r.type === 'stats-result') for (const s of r.stores) m.set(s.index, s.stats);
        return m;
      })
      .catch((): StatsByStore => new Map())
      .finally(() => {
        setImmediate(() => (round = undefined));
      });
    return round;
  };
  const labelsOf = (st: StoreSpec): Record<(typeof LABELS)[number], string> => ({
    shard: st.shard.name,
    role: st.role,
    node: st.node,
  });
  const totals = new MonotonicTotals();

  for (const [field, [name, help]] of Object.entries(GAUGES)) {
    new Gauge({
      name: `distkv_store_${name}`,
      help,
      labelNames: LABELS,
      registers: [registry],
      async collect() {
        const stats = await load();
        this.reset();
        for (const st of stores) {
          const v = stats.get(st.index)?.[field];
          if (typeof v === 'number') this.set(labelsOf(st), v);
        }
      },
    });
  }
  for (const [field, [name, help]] of Object.entries(COUNTERS)) {
    new Counter({
      name: `distkv_store_${name}_total`,
      help,
      labelNames: LABELS,
      registers: [registry],
      async collect() {
        const stats = await load();
        this.reset();
        for (const st of stores) {
          const v = stats.get(st.index)?.[field];
          if (typeof v === 'number') this.inc(labelsOf(st), totals.total(`${st.index} ${field}`, v));
        }
      },
    });
  }
  for (const [field, [name, help]] of Object.entries(HISTOGRAMS)) {
    new ScrapedHistogram({
      name: `distkv_store_${name}`,
      help,
      labelNames: LABELS,
      registry,
      read: async () => {
        const stats = await load();
        const out: { labels: Record<string, string>; snapshot: HistogramSnapshot }[] = [];
        for (const st of stores) {
          const v = stats.get(st.index)?.[field];
          if (isHistogramSnapshot(v))
            out.push({ labels: labelsOf(st), snapshot: totals.histogram(`${st.index} ${field}`, v) });
        }
        return out;
      },
    });
  }
}
