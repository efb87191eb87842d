/**
 * HTTP request metrics for /metrics: requests by route and status, and a latency histogram per route.
 *
 * The hot path does a few map and array increments per request; prom-client reads the totals only
 * when /metrics is scraped (through `collect()`), so counting costs no prom-client label lookups.
 */
import { Counter, type Registry } from 'prom-client';

/** ROUTES are the route labels, in the order of their numeric ids. */
export const ROUTES = [
  'kv_get',
  'kv_put',
  'kv_delete',
  'kv_scan',
  'kv_batch',
  'seed_get',
  'seed_set',
  'seed_purge',
  'healthz',
  'cluster',
  'stats',
  'metrics',
  'redirect',
  'other',
] as const;

/** Route is one route label. */
export type Route = (typeof ROUTES)[number];

/** LATENCY_BUCKETS_S are the latency histogram bounds in seconds (50 µs .. 5 s). */
export const LATENCY_BUCKETS_S = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

/** HttpMetrics counts requests cheaply and exposes them through prom-client. */
export class HttpMetrics {
  private readonly routeIds = new Map<Route, number>(ROUTES.map((r, i) => [r, i]));
  // counts[route][status] and per-route latency buckets, folded into prom-client at scrape time.
  private readonly counts = new Map<number, Map<number, number>>();
  private readonly buckets: Float64Array[] = ROUTES.map(() => new Float64Array(LATENCY_BUCKETS_S.length + 1));
  private readonly sums = new Float64Array(ROUTES.length);

  constructor(registry: Registry) {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- prom-client calls collect() with its own `this`
    const self = this;
    new Counter({
      name: 'distkv_http_requests_total',
      help: 'HTTP requests by route and status',
      labelNames: ['route', 'status'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [routeId, byStatus] of self.counts) {
          for (const [status, n] of byStatus)
            this.inc({ route: ROUTES[routeId]!, status: String(status) }, n);
        }
      },
    });
  }

  /**
   * latencyExposition renders the latency histogram in Prometheus text format. It is written here
   * rather than with prom-client's Histogram because the counts are kept in plain arrays (see above).
   */
  latencyExposition(): string {
    const name = 'distkv_http_request_duration_seconds';
    const lines = [
      `# HELP ${name} HTTP request latency by route, from request parsed to response written`,
      `# TYPE ${name} histogram`,
    ];
    this.buckets.forEach((counts, routeId) => {
      const total = counts.reduce((a, b) => a + b, 0);
      if (total === 0) return;
      const route = ROUTES[routeId]!;
      let cumulative = 0;
      LATENCY_BUCKETS_S.forEach((le, b) => {
        cumulative += counts[b]!;
        lines.push(`${name}_bucket{le="${le}",route="${route}"} ${cumulative}`);
      });
      lines.push(`${name}_bucket{le="+Inf",route="${route}"} ${total}`);
      lines.push(`${name}_sum{route="${route}"} ${this.sums[routeId]!}`);
      lines.push(`${name}_count{route="${route}"} ${total}`);
    });
    return lines.join('\n') + '\n';
  }

  /** record counts one finished request; `startMs` is performance.now() when it arrived. */
  record(route: Route, status: number, startMs: number): void {
    const id = this.routeIds.get(route)!;
    let byStatus = this.counts.get(id);
    if (byStatus === undefined) this.counts.set(id, (byStatus = new Map<number, number>()));
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
    const seconds = (performance.now() - startMs) / 1000;
    this.sums[id]! += seconds;
    const counts = this.buckets[id]!;
    let b = 0;
    while (b < LATENCY_BUCKETS_S.length && seconds > LATENCY_BUCKETS_S[b]!) b++;
    counts[b]! += 1;
  }
}
