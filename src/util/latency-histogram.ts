/**
 * LatencyHistogram: a fixed-bucket histogram of durations in seconds, cheap enough for hot paths
 * (a short loop and two additions per observation, no allocation) and plain enough to cross a
 * thread boundary as a snapshot.
 *
 * Every histogram uses the same bounds, LATENCY_BUCKETS_S, so snapshots from different stores,
 * workers or listeners can be added bucket by bucket. A snapshot's `counts` are per bucket (not
 * cumulative): `counts[i]` observations were ≤ LATENCY_BUCKETS_S[i] and above the previous bound,
 * and the last entry counts those above the largest bound. /metrics renders them cumulatively
 * (Prometheus `_bucket{le}`), see src/util/prom-snapshot.ts.
 */

/** LATENCY_BUCKETS_S are the upper bounds in seconds, 50 µs to 60 s (fsyncs to compactions). */
export const LATENCY_BUCKETS_S: readonly number[] = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
  30, 60,
];

/** HistogramSnapshot is a histogram's state as plain data (structured-clone and JSON safe). */
export interface HistogramSnapshot {
  /** counts per bucket of LATENCY_BUCKETS_S plus one overflow bucket. */
  counts: number[];
  /** sum of all observed durations, in seconds. */
  sum: number;
  /** count of observations (the sum of `counts`). */
  count: number;
}

/** emptySnapshot returns a snapshot with no observations. */
export function emptySnapshot(): HistogramSnapshot {
  return { counts: new Array<number>(LATENCY_BUCKETS_S.length + 1).fill(0), sum: 0, count: 0 };
}

/** isHistogramSnapshot checks a value that crossed a thread boundary. */
export function isHistogramSnapshot(v: unknown): v is HistogramSnapshot {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Partial<HistogramSnapshot>;
  return (
    Array.isArray(s.counts) &&
    s.counts.length === LATENCY_BUCKETS_S.length + 1 &&
    s.counts.every((c) => typeof c === 'number') &&
    typeof s.sum === 'number' &&
    typeof s.count === 'number'
  );
}

/** bucketOf returns the index of the bucket that holds `seconds`. */
export function bucketOf(seconds: number): number {
  let b = 0;
  while (b < LATENCY_BUCKETS_S.length && seconds > LATENCY_BUCKETS_S[b]!) b++;
  return b;
}

/** LatencyHistogram records durations; owned by one thread. */
export class LatencyHistogram {
  private readonly counts = new Float64Array(LATENCY_BUCKETS_S.length + 1);
  private sum = 0;
  private count = 0;

  /** observe records one duration in seconds. */
  observe(seconds: number): void {
    this.counts[bucketOf(seconds)]! += 1;
    this.sum += seconds;
    this.count++;
  }

  /** snapshot copies the current state. */
  snapshot(): HistogramSnapshot {
    return { counts: Array.from(this.counts), sum: this.sum, count: this.count };
  }
}
