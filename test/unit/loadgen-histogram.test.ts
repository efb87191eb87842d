/**
 * The load generator's latency histogram against distributions whose percentiles are known, and
 * its merge across threads (encode/decode/add).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LatencyHistogram } from '../../src/loadgen/histogram.js';
import { Rng } from '../../src/loadgen/zipf.js';

/** within asserts |actual - expected| ≤ rel·expected. */
function within(actual: number, expected: number, rel: number, what: string): void {
  assert.ok(
    Math.abs(actual - expected) <= rel * expected,
    `${what}: ${actual} is not within ${rel * 100}% of ${expected}`,
  );
}

describe('LatencyHistogram', () => {
  it('gives the exact percentiles of 1..100000 µs to 3 significant digits', () => {
    const h = new LatencyHistogram();
    for (let v = 1; v <= 100_000; v++) h.record(v);
    const s = h.summary();
    assert.equal(s.count, 100_000);
    within(s.p50_us, 50_000, 0.001, 'p50');
    within(s.p90_us, 90_000, 0.001, 'p90');
    within(s.p99_us, 99_000, 0.001, 'p99');
    within(s.p999_us, 99_900, 0.001, 'p99.9');
    within(s.max_us, 100_000, 0.001, 'max');
    within(s.mean_us, 50_000, 0.001, 'mean');
  });

  it('matches the analytic percentiles of an exponential distribution', () => {
    const rng = new Rng(7);
    const h = new LatencyHistogram();
    const mean = 1000;
    for (let i = 0; i < 200_000; i++) h.record(-mean * Math.log(1 - rng.next()));
    // For Exp(mean), the p-th percentile is -mean·ln(1-p).
    within(h.percentile(50), mean * Math.LN2, 0.03, 'p50');
    within(h.percentile(90), mean * Math.log(10), 0.03, 'p90');
    within(h.percentile(99), mean * Math.log(100), 0.05, 'p99');
  });

  it('clamps values outside its range instead of dropping them', () => {
    const h = new LatencyHistogram();
    h.record(0);
    h.record(-5);
    h.record(1e12);
    assert.equal(h.count, 3);
    assert.equal(h.summary().max_us >= 59_000_000, true);
  });

  it('adds histograms sent between threads as if one had recorded everything', () => {
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    const all = new LatencyHistogram();
    for (let v = 1; v <= 5000; v++) {
      (v % 3 === 0 ? a : b).record(v * 7);
      all.record(v * 7);
    }
    const merged = LatencyHistogram.decode(a.encode());
    merged.add(LatencyHistogram.decode(b.encode()));
    assert.deepEqual(merged.summary(), all.summary());
    const curve = merged.curve();
    assert.ok(curve.length > 10);
    for (let i = 1; i < curve.length; i++)
      assert.ok(curve[i]![1] >= curve[i - 1]![1], 'the curve never falls');
  });
});
