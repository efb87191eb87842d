/**
 * Counts kept outside prom-client and read at scrape time: worker counters that restart from zero
 * still export as counters that never go down, histogram snapshots render as Prometheus buckets,
 * and HTTP requests are counted per node, method, status and error code.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { HttpMetrics } from '../../src/http/http-metrics.js';
import { LatencyHistogram } from '../../src/util/latency-histogram.js';
import { MonotonicTotals, ScrapedHistogram } from '../../src/util/prom-snapshot.js';
import { parseExposition } from '../helpers/prom-parse.js';

describe('MonotonicTotals', () => {
  it('adds increases and, after a restart from zero, the whole new value', () => {
    const t = new MonotonicTotals();
    assert.equal(t.total('a', 5), 5);
    assert.equal(t.total('a', 8), 8);
    assert.equal(t.total('a', 8), 8, 'the same snapshot twice adds nothing');
    assert.equal(t.total('a', 2), 10, 'the worker restarted: 8 before + 2 since');
    assert.equal(t.total('a', 3), 11);
    assert.equal(t.total('b', 1), 1, 'keys are independent');
  });

  it('folds histogram snapshots the same way', () => {
    const t = new MonotonicTotals();
    const h = new LatencyHistogram();
    h.observe(0.001);
    h.observe(0.002);
    assert.equal(t.histogram('s', h.snapshot()).count, 2);
    h.observe(0.5);
    const afterThree = t.histogram('s', h.snapshot());
    assert.equal(afterThree.count, 3);
    const fresh = new LatencyHistogram();
    fresh.observe(0.001);
    const afterRestart = t.histogram('s', fresh.snapshot());
    assert.equal(afterRestart.count, 4);
    assert.ok(Math.abs(afterRestart.sum - 0.504) < 1e-9);
    assert.equal(
      afterRestart.counts.reduce((a, b) => a + b, 0),
      4,
    );
  });
});

describe('ScrapedHistogram', () => {
  it('renders snapshots as cumulative buckets up to +Inf with _sum and _count', async () => {
    const registry = new Registry();
    const h = new LatencyHistogram();
    for (const s of [0.00001, 0.003, 0.003, 100]) h.observe(s);
    new ScrapedHistogram({
      name: 'x_duration_seconds',
      help: 'x',
      labelNames: ['shard'],
      registry,
      read: () => [{ labels: { shard: 's0' }, snapshot: h.snapshot() }],
    });
    const f = parseExposition(await registry.metrics()).get('x_duration_seconds')!;
    assert.equal(f.type, 'histogram');
    const bucket = (le: string): number | undefined =>
      f.samples.find((s) => s.name === 'x_duration_seconds_bucket' && s.labels.le === le)?.value;
    assert.equal(bucket('0.00005'), 1);
    assert.equal(bucket('0.0025'), 1);
    assert.equal(bucket('0.005'), 3);
    assert.equal(bucket('60'), 3);
    assert.equal(bucket('+Inf'), 4);
    assert.equal(f.samples.find((s) => s.name === 'x_duration_seconds_count')?.value, 4);
  });
});

describe('HttpMetrics', () => {
  it('counts per node, route, method and status, with the error code only on errors', async () => {
    const registry = new Registry();
    const m = new HttpMetrics(registry);
    m.observeRequest('kv_get', 'GET', 200, 'a:1', '', 0.001);
    m.observeRequest('kv_get', 'GET', 200, 'a:1', '', 0.002);
    m.observeRequest('kv_get', 'GET', 200, 'b:2', '', 0.001);
    m.observeRequest('kv_put', 'PUT', 507, 'a:1', 'DISK_FULL', 0.01);
    m.observeRequest('other', 'BREW', 405, 'a:1', 'METHOD_NOT_ALLOWED', 0.0001);
    // Labels seen before, after others (the series of the previous request is reused only when equal).
    m.observeRequest('other', 'MKCOL', 405, 'a:1', 'METHOD_NOT_ALLOWED', 0.0001);
    m.observeRequest('kv_get', 'GET', 200, 'a:1', '', 0.001);
    const f = parseExposition(await registry.metrics());
    const requests = f.get('distkv_http_requests_total')!.samples;
    assert.deepEqual(
      requests.map((s) => [s.labels, s.value]),
      [
        [{ node: 'a:1', route: 'kv_get', method: 'GET', status: '200' }, 3],
        [{ node: 'b:2', route: 'kv_get', method: 'GET', status: '200' }, 1],
        [{ node: 'a:1', route: 'kv_put', method: 'PUT', status: '507', code: 'DISK_FULL' }, 1],
        [{ node: 'a:1', route: 'other', method: 'OTHER', status: '405', code: 'METHOD_NOT_ALLOWED' }, 2],
      ],
    );
    const count = f
      .get('distkv_http_request_duration_seconds')!
      .samples.find(
        (s) => s.name.endsWith('_count') && s.labels.node === 'a:1' && s.labels.route === 'kv_get',
      );
    assert.equal(count?.value, 3);
  });
});
