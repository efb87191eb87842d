/**
 * LatencyHistogram: the load generator's latency record, an HDR histogram (hdr-histogram-js, 3
 * significant digits, microseconds from 1 µs to 60 s). Each load thread records into its own and
 * ships it to the main thread compressed (`encode`/`decode`), where they are added together.
 * Percentiles are exact to the histogram's precision (±0.1%); `curve` gives the points of a
 * latency-by-percentile plot.
 */
import * as hdr from 'hdr-histogram-js';

const LOWEST_US = 1;
const HIGHEST_US = 60_000_000;

/** LatencySummary is what reports print, in microseconds. */
export interface LatencySummary {
  count: number;
  mean_us: number;
  p50_us: number;
  p90_us: number;
  p99_us: number;
  p999_us: number;
  max_us: number;
}

/** LatencyHistogram records latencies in microseconds. */
export class LatencyHistogram {
  private readonly h: hdr.Histogram;

  constructor(h?: hdr.Histogram) {
    this.h =
      h ??
      hdr.build({
        bitBucketSize: 32,
        lowestDiscernibleValue: LOWEST_US,
        highestTrackableValue: HIGHEST_US,
        numberOfSignificantValueDigits: 3,
        useWebAssembly: false,
      });
  }

  /** decode rebuilds a histogram sent by `encode`. */
  static decode(text: string): LatencyHistogram {
    return new LatencyHistogram(hdr.decodeFromCompressedBase64(text, 32, false));
  }

  /** record adds one latency; values outside 1 µs..60 s are clamped so none is lost. */
  record(us: number): void {
    this.h.recordValue(Math.min(HIGHEST_US, Math.max(LOWEST_US, Math.round(us))));
  }

  get count(): number {
    return this.h.totalCount;
  }

  /** percentile returns the latency at `p` (0-100) in µs. */
  percentile(p: number): number {
    return this.h.totalCount === 0 ? 0 : this.h.getValueAtPercentile(p);
  }

  add(other: LatencyHistogram): void {
    this.h.add(other.h);
  }

  encode(): string {
    return hdr.encodeIntoCompressedBase64(this.h);
  }

  summary(): LatencySummary {
    return {
      count: this.h.totalCount,
      mean_us: this.h.totalCount === 0 ? 0 : Math.round(this.h.mean),
      p50_us: this.percentile(50),
      p90_us: this.percentile(90),
      p99_us: this.percentile(99),
      p999_us: this.percentile(99.9),
      max_us: this.percentile(100),
    };
  }

  /** curve returns [percentile, µs] points spaced evenly on a log(1/(1-p)) axis up to 99.999. */
  curve(): [number, number][] {
    const out: [number, number][] = [];
    for (let nines = 0; nines <= 5; nines += 0.125) {
      const p = 100 * (1 - 10 ** -nines);
      out.push([p, this.percentile(p)]);
    }
    return out;
  }
}
