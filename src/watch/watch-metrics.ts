/**
 * Watch streams for /metrics (docs/api.md), read from the process's WatchHub when scraped:
 *
 *   distkv_watchers_open                      gauge; watch streams open (SSE and WebSocket)
 *   distkv_watch_streams_cut_total{reason}    counter; streams the node ended with `resume`:
 *                                             slow (over max_buffer_bytes), draining, no-lease,
 *                                             failover, disputed, error (docs/watch.md)
 *
 * No watch yet in the process: 0 watchers and no cut series.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { WorkerPool } from '../server/worker-pool.js';
import { WatchHub } from './watch-hub.js';

/** registerWatchMetrics exposes the watch streams of `pool`'s process (see the module comment). */
export function registerWatchMetrics(registry: Registry, pool: WorkerPool): void {
  new Gauge({
    name: 'distkv_watchers_open',
    help: 'Watch streams open in the process, SSE and WebSocket',
    registers: [registry],
    collect() {
      this.set(WatchHub.find(pool)?.count ?? 0);
    },
  });
  new Counter({
    name: 'distkv_watch_streams_cut_total',
    help: 'Watch streams the node ended with resume: slow (over max_buffer_bytes), draining, no-lease, failover, disputed, error',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, n] of WatchHub.find(pool)?.cuts ?? []) this.inc({ reason }, n);
    },
  });
}
