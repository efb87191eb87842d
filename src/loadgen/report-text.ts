/**
 * Text output of a load run: what was run, throughput, percentiles, and errors by status.
 */
import type { LoadResult } from './loadgen.js';
import { REDIRECT_ADVICE, redirectCount } from './redirects.js';

const ms = (us: number): string => (us / 1000).toFixed(us < 10_000 ? 2 : 1);

/** formatResult renders a LoadResult for people. */
export function formatResult(r: LoadResult): string {
  const o = r.options;
  const lines = [
    `target      ${r.target}`,
    `workload    mix ${o.mix}, ${o.keys} keys ${o.dist}, ${o.valueSize} B values, ${o.concurrency} connections on ${o.threads} thread(s)${
      o.rate > 0 ? `, open loop at ${o.rate} ops/s` : ', closed loop'
    }`,
    `machine     node ${r.node}, ${r.cpus} CPUs`,
  ];
  if (r.preload !== undefined)
    lines.push(
      `preload     ${r.preload.keys} keys in ${r.preload.seconds.toFixed(1)} s (${Math.round(r.preload.rate)}/s)`,
    );
  lines.push(
    `requests    ${r.requests} in ${r.duration_s.toFixed(1)} s: ${r.ok} ok, ${r.errors} errors${
      r.interrupted === undefined ? '' : ' (interrupted: the run was stopped early)'
    }`,
    `throughput  ${Math.round(r.throughput)} ops/s`,
    `latency ms  p50 ${ms(r.latency.p50_us)}  p90 ${ms(r.latency.p90_us)}  p99 ${ms(r.latency.p99_us)}  p99.9 ${ms(
      r.latency.p999_us,
    )}  max ${ms(r.latency.max_us)}  (mean ${ms(r.latency.mean_us)})`,
  );
  const statuses = Object.entries(r.by_status).sort(([a], [b]) => a.localeCompare(b));
  lines.push(`by status   ${statuses.map(([s, n]) => `${s}: ${n}`).join(', ') || '-'}`);
  if (r.errors > 0)
    lines.push(
      `ERRORS      ${r.errors} operations failed (${((100 * r.errors) / Math.max(1, r.requests)).toFixed(2)}%)`,
    );
  const redirected = redirectCount(r.by_status);
  if (redirected > 0)
    lines.push(
      `REDIRECTS   307: ${redirected} operations were redirected to the nodes that own their keys (MOVED over RESP); ${REDIRECT_ADVICE}`,
    );
  return `${lines.join('\n')}\n`;
}
