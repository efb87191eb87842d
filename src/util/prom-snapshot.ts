/**
 * Exposing counts kept elsewhere through prom-client: the hot paths (HTTP requests on the main
 * thread, fsyncs and compactions on the shard workers) count in plain arrays, and /metrics reads
 * their latest snapshots when Prometheus scrapes.
 *
 * - `ScrapedHistogram` is a prom-client histogram whose series are read from LatencyHistogram
 *   snapshots at scrape time (prom-client has no way to set bucket counts, so it renders them
 *   itself, in prom-client's value format: cumulative `_bucket{le}` up to `+Inf`, `_sum`, `_count`).
 * - `MonotonicTotals` turns snapshots of counters that restart from zero (a worker restarted after a
 *   crash, a replica store rebuilt from a snapshot) into totals that only go up, as a Prometheus
 *   counter must within one process: it adds each snapshot's increase over the previous one, and
 *   the whole new value when it went down.
 */
import { Histogram, type Registry } from 'prom-client';
import { emptySnapshot, type HistogramSnapshot, LATENCY_BUCKETS_S } from './latency-histogram.js';

/** HistogramSeries is one labelled series of a ScrapedHistogram. */
export interface HistogramSeries {
  labels: Record<string, string>;
  snapshot: HistogramSnapshot;
}

/** ScrapedHistogramOptions configure a ScrapedHistogram. */
export interface ScrapedHistogramOptions {
  name: string;
  help: string;
  labelNames: readonly string[];
  registry: Registry;
  /** read returns every series at scrape time. */
  read: () => HistogramSeries[] | Promise<HistogramSeries[]>;
}

/** Exported is what prom-client's Registry reads from a metric. */
type Exported = Awaited<ReturnType<Histogram['get']>>;

/** ScrapedHistogram is a histogram family read from snapshots when scraped. */
export class ScrapedHistogram extends Histogram {
  private readonly read: ScrapedHistogramOptions['read'];

  constructor(o: ScrapedHistogramOptions) {
    super({
      name: o.name,
      help: o.help,
      labelNames: o.labelNames,
      buckets: [...LATENCY_BUCKETS_S],
      registers: [o.registry],
    });
    this.read = o.read;
  }

  override async get(): Promise<Exported> {
    const { name, help, type } = this as unknown as Pick<Exported, 'name' | 'help' | 'type'>;
    const values: Exported['values'] = [];
    for (const { labels, snapshot } of await this.read()) {
      let cumulative = 0;
      LATENCY_BUCKETS_S.forEach((le, i) => {
        cumulative += snapshot.counts[i] ?? 0;
        values.push({ metricName: `${name}_bucket`, labels: { ...labels, le }, value: cumulative });
      });
      values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: snapshot.count });
      values.push({ metricName: `${name}_sum`, labels, value: snapshot.sum });
      values.push({ metricName: `${name}_count`, labels, value: snapshot.count });
    }
    // The series are read above, so there is nothing left for a collect function to do.
    return { name, help, type, values, aggregator: 'sum', collect: () => undefined };
  }

  /** getForPromString is what Registry.metrics() reads; it must not fall back to the parent's empty series. */
  getForPromString(): Promise<Exported> {
    return this.get();
  }
}

/** MonotonicTotals accumulates restarting counter snapshots into totals that never go down. */
export class MonotonicTotals {
  private readonly last = new Map<string, number>();
  private readonly totals = new Map<string, number>();
  private readonly lastHist = new Map<string, HistogramSnapshot>();
  private readonly histTotals = new Map<string, HistogramSnapshot>();

  /** total folds the snapshot `value` of the counter `key` in and returns its running total. */
  total(key: string, value: number): number {
    const prev = this.last.get(key) ?? 0;
    const sum = (this.totals.get(key) ?? 0) + (value >= prev ? value - prev : value);
    this.last.set(key, value);
    this.totals.set(key, sum);
    return sum;
  }

  /** histogram folds the histogram snapshot of `key` in and returns its running total. */
  histogram(key: string, snap: HistogramSnapshot): HistogramSnapshot {
    const prev = this.lastHist.get(key);
    const restarted = prev === undefined || snap.count < prev.count;
    const acc = this.histTotals.get(key) ?? emptySnapshot();
    const out: HistogramSnapshot = {
      counts: acc.counts.map((c, i) => c + (snap.counts[i] ?? 0) - (restarted ? 0 : prev.counts[i]!)),
      sum: acc.sum + snap.sum - (restarted ? 0 : prev.sum),
      count: acc.count + snap.count - (restarted ? 0 : prev.count),
    };
    this.lastHist.set(key, snap);
    this.histTotals.set(key, out);
    return out;
  }
}
