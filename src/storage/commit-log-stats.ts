/**
 * What a worker's commit log counts (for /stats) and how long its fdatasyncs take (for the
 * /metrics histogram). Written only by the log's writer (commit-log-writer.ts) on the worker's
 * thread; read by the CommitLog's getters on the same thread.
 */
import { LatencyHistogram } from '../util/latency-histogram.js';
import type { WritableFile } from './vfs.js';

/** LogStats are one commit log's counters and sync timings. */
export class LogStats {
  /** counters for /stats: batches settled, records handed over, fdatasyncs and their total ms, failed batches, failed syncs answered by writing the unsynced batches again. */
  readonly counters = { batches: 0, records: 0, syncs: 0, syncMsTotal: 0, failures: 0, syncRepairs: 0 };
  /** syncSeconds times every fdatasync of the log (for the /metrics histogram). */
  readonly syncSeconds = new LatencyHistogram();

  /** timedSync fsyncs `file`, counting and timing it. */
  async timedSync(file: WritableFile): Promise<void> {
    const t0 = performance.now();
    await file.sync();
    const ms = performance.now() - t0;
    this.counters.syncs++;
    this.counters.syncMsTotal += ms;
    this.syncSeconds.observe(ms / 1000);
  }
}
