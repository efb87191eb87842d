/**
 * Measures: the per-request cost of counting a request for /metrics (src/http/http-metrics.ts,
 * `observeRequest` with node, route, method, status and code labels), next to two references run
 * in the same process: the main thread's routing work for a GET (check key, route to its shard,
 * encode the op; as in request-routing.bench.ts), and the same counting done the plain prom-client
 * way (Counter.inc and Histogram.observe with a labels object per request).
 */
import { bench, do_not_optimize, run } from 'mitata';
import { Counter, Histogram, Registry } from 'prom-client';
import { HttpMetrics } from '../../../src/http/http-metrics.js';
import { checkKey } from '../../../src/http/request-parse.js';
import { ShardMap } from '../../../src/routing/shard-map.js';
import { LATENCY_BUCKETS_S } from '../../../src/util/latency-histogram.js';
import { RequestWriter } from '../../../src/worker/op-codec.js';
import { OP_GET } from '../../../src/worker/op-format.js';
import { printHeader } from '../header.js';

printHeader('http/observe-request (2 nodes, 4 routes)');
const map = new ShardMap(
  [0, 1, 2, 3].map((i) => ({
    name: `shard-${i}`,
    idx: i,
    address: `127.0.0.${i + 2}:8080`,
    replicas: [],
    slots: { first: i * 4096, last: i * 4096 + 4095 },
  })),
);
const keys = Array.from({ length: 1024 }, (_, i) => `user:${String(i * 7919).padStart(10, '0')}`);
const writer = new RequestWriter();
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
let id = 0;

bench('reference: GET check key, route to shard, encode', () => {
  const key = keys[i++ & 1023]!;
  checkKey(key, 1024);
  writer.add(++id, OP_GET, map.shardOf(key), key, undefined);
  if (writer.count >= 64) do_not_optimize(writer.take());
});

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
