/**
 * HTTP request metrics for /metrics (names and labels in docs/api.md):
 *
 *   distkv_http_requests_total{node,route,method,status[,code]}   counter; `code` on error responses
 *   distkv_http_request_duration_seconds{node,route,method}       histogram (LATENCY_BUCKETS_S)
 *
 * and the process's connections, HTTP and RESP together (registerConnectionMetrics, read from
 * src/server/connection-limit.ts when scraped):
 *
 *   distkv_connections_open                   gauge
 *   distkv_connections_refused_total          counter; over server.max_connections
 *   distkv_connections_closed_total{reason}   counter; unsent_budget, stalled (idle sweep, answers
 *                                             waiting unsent), idle (idle sweep, nothing pending)
 *   distkv_unsent_bytes                       gauge; answer bytes waiting unsent, all connections
 *   distkv_unsent_bytes_limit                 gauge; server.max_unsent_bytes (0 = none)
 *
 * `node` is the listener's address, so each hosted node's traffic is its own series. The hot path
 * (`observeRequest`) does one string concatenation, one map lookup and a few array increments;
 * prom-client reads the series only when /metrics is scraped, so counting costs no prom-client
 * label hashing per request. Owned by the main thread.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ConnectionLimit } from '../server/connection-limit.js';
import { bucketOf, type HistogramSnapshot, LATENCY_BUCKETS_S } from '../util/latency-histogram.js';
import { ScrapedHistogram } from '../util/prom-snapshot.js';

/** ROUTES are the route labels. */
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
  'watch',
  'other',
] as const;

/** Route is one route label. */
export type Route = (typeof ROUTES)[number];

/** METHODS are the method labels kept as sent; any other method is counted as OTHER (bounded series). */
const METHODS = new Set(['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'OPTIONS', 'PATCH']);

/** Series is one combination of labels and what was counted under it. */
interface Series {
  node: string;
  route: Route;
  method: string;
  status: string;
  /** statusCode and sentMethod are the status and method as observed (the cache key of `last`). */
  statusCode: number;
  sentMethod: string;
  code: string;
  counts: Float64Array;
  sum: number;
  count: number;
}

/** secondsSince returns the seconds elapsed since `startMs`, a performance.now() reading. */
export function secondsSince(startMs: number): number {
  return (performance.now() - startMs) / 1000;
}

/** errorCodeOf returns the `code` of a JSON error body (`{"error":{"code":..}}`), or '' when it has none. */
export function errorCodeOf(body: unknown): string {
  if (typeof body !== 'object' || body === null) return '';
  const error = (body as { error?: unknown }).error;
  if (typeof error !== 'object' || error === null) return '';
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : '';
}

/** HttpMetrics counts requests cheaply and exposes them through prom-client. */
export class HttpMetrics {
  private readonly series = new Map<string, Series>();
  private last: Series | undefined;

  constructor(registry: Registry) {
    const all = (): IterableIterator<Series> => this.series.values();
    new Counter({
      name: 'distkv_http_requests_total',
      help: 'HTTP requests answered, by listener node, route, method, status and (for errors) error code',
      labelNames: ['node', 'route', 'method', 'status', 'code'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of all()) {
          const labels = { node: s.node, route: s.route, method: s.method, status: s.status };
          this.inc(s.code === '' ? labels : { ...labels, code: s.code }, s.count);
        }
      },
    });
    new ScrapedHistogram({
      name: 'distkv_http_request_duration_seconds',
      help: 'HTTP request latency by listener node, route and method, from request parsed to response written',
      labelNames: ['node', 'route', 'method'],
      registry,
      read: () => {
        const merged = new Map<string, { labels: Record<string, string>; snapshot: HistogramSnapshot }>();
        for (const s of all()) {
          const key = `${s.node} ${s.route} ${s.method}`;
          let m = merged.get(key);
          if (m === undefined) {
            m = {
              labels: { node: s.node, route: s.route, method: s.method },
              snapshot: { counts: new Array<number>(LATENCY_BUCKETS_S.length + 1).fill(0), sum: 0, count: 0 },
            };
            merged.set(key, m);
          }
          s.counts.forEach((c, i) => (m.snapshot.counts[i]! += c));
          m.snapshot.sum += s.sum;
          m.snapshot.count += s.count;
        }
        return [...merged.values()];
      },
    });
  }

  /**
   * observeRequest counts one answered request: its route label, HTTP method, status, the node
   * (listener address) that received it, the error code for an error response ('' otherwise) and
   * its duration in seconds.
   */
  observeRequest(
    route: Route,
    method: string,
    status: number,
    node: string,
    code: string,
    seconds: number,
  ): void {
    let s = this.last;
    // Under load most requests repeat the labels of the one before: no key string, no lookup.
    if (
      s === undefined ||
      s.route !== route ||
      s.statusCode !== status ||
      s.code !== code ||
      s.node !== node ||
      s.sentMethod !== method
    )
      this.last = s = this.seriesOf(route, method, status, node, code);
    s.counts[bucketOf(seconds)]! += 1;
    s.sum += seconds;
    s.count++;
  }

  private seriesOf(route: Route, sentMethod: string, status: number, node: string, code: string): Series {
    const method = METHODS.has(sentMethod) ? sentMethod : 'OTHER';
    const key = `${node} ${route} ${method} ${status} ${code}`;
    let s = this.series.get(key);
    if (s === undefined) {
      s = {
        node,
        route,
        method,
        status: String(status),
        statusCode: status,
        sentMethod,
        code,
        counts: new Float64Array(LATENCY_BUCKETS_S.length + 1),
        sum: 0,
        count: 0,
      };
      this.series.set(key, s);
    }
    return s;
  }
}

/** registerConnectionMetrics exposes the process's connection counts and unsent bytes (see the module comment). */
export function registerConnectionMetrics(registry: Registry, limit: ConnectionLimit): void {
  const gauge = (name: string, help: string, value: () => number): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(value());
      },
    });
  };
  gauge('distkv_connections_open', 'HTTP and RESP connections open in the process', () => limit.open);
  gauge(
    'distkv_unsent_bytes',
    'Answer bytes the process built and could not send yet, all connections together',
    () => limit.unsent.total,
  );
  gauge('distkv_unsent_bytes_limit', 'server.max_unsent_bytes (0 = no limit)', () => limit.unsent.maxBytes);
  new Counter({
    name: 'distkv_connections_refused_total',
    help: 'Connections refused because server.max_connections were open',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(limit.refused);
    },
  });
  new Counter({
    name: 'distkv_connections_closed_total',
    help: 'Connections closed by the server: unsent_budget (server.max_unsent_bytes), stalled (answers unread for the idle limit), idle',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ reason: 'unsent_budget' }, limit.unsent.evicted);
      this.inc({ reason: 'stalled' }, limit.closedStalled);
      this.inc({ reason: 'idle' }, limit.closedIdle);
    },
  });
}
