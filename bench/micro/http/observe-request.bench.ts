/**
 * Measures: the per-request cost of counting a request for /metrics (src/http/http-metrics.ts,
 * `observeRequest` with node, route, method, status and code labels), next to two references run
 * in the same process: the main thread's routing work for a GET (check key, route to its shard,
 * encode the op; as in request-routing.bench.ts), and the same counting done the plain prom-client
 * way (Counter.inc and Histogram.observe with a labels object per request).
 */
import { bench, run } from 'mitata';
import { Counter, Histogram, Registry } from 'prom-client';
import { HttpMetrics } from '../../../src/http/http-metrics.js';
import { LATENCY_BUCKETS_S } from '../../../src/util/latency-histogram.js';
import { printHeader } from '../header.js';
import { routeGet, seedShardMap } from '../routing-fixture.js';

printHeader('http/observe-request (2 nodes, 4 routes)');
const map = seedShardMap();
const nodes = ['127.0.0.1:8080', '127.0.0.1:8081'];
const kinds = [
  { route: 'kv_get', method: 'GET', status: 200, code: '' },
  { route: 'kv_put', method: 'PUT', status: 204, code: '' },
  { route: 'kv_get', method: 'GET', status: 404, code: 'NOT_FOUND' },
  { route: 'seed_get', method: 'GET', status: 200, code: '' },
] as const;
const metrics = new HttpMetrics(new Registry());
const registry = new Registry();
const labelNames = ['node', 'route', 'method', 'status', 'code'] as const;
const counter = new Counter({ name: 'c_total', help: 'c', labelNames, registers: [registry] });
const histogram = new Histogram({
  name: 'h_seconds',
  help: 'h',
  labelNames: ['node', 'route', 'method'],
  buckets: [...LATENCY_BUCKETS_S],
  registers: [registry],
});
let i = 0;

bench('reference: GET check key, route to shard, encode', routeGet(map));

bench('observeRequest (plain arrays, read at scrape)', () => {
  const k = kinds[i & 3]!;
  metrics.observeRequest(k.route, k.method, k.status, nodes[(i++ >> 2) & 1]!, k.code, 0.0003);
});

bench('reference: prom-client Counter.inc + Histogram.observe per request', () => {
  const k = kinds[i & 3]!;
  const node = nodes[(i++ >> 2) & 1]!;
  counter.inc({ node, route: k.route, method: k.method, status: k.status, code: k.code });
  histogram.observe({ node, route: k.route, method: k.method }, 0.0003);
});

await run();
