/**
 * `--report FILE.html`: a self-contained page (inline SVG, no scripts or external files) with the
 * run's figures, throughput over time and the latency-by-percentile curve on a log(1/(1-p)) axis,
 * the way HdrHistogram plots are read: the further right, the rarer the latency.
 */
import type { LoadResult } from './loadgen.js';

const W = 640;
const H = 260;
const PAD = 48;

const esc = (s: string): string =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** polyline draws points already scaled to [0,1]² into the plot area. */
function chart(
  title: string,
  points: [number, number][],
  xLabels: [number, string][],
  yMax: number,
  yUnit: string,
): string {
  const x = (u: number): number => PAD + u * (W - 2 * PAD);
  const y = (v: number): number => H - PAD - v * (H - 2 * PAD);
  const path = points.map(([u, v]) => `${x(u).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  const yTicks = [0, 0.25, 0.5, 0.75, 1]
    .map(
      (v) =>
        `<line x1="${PAD}" x2="${W - PAD}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/><text x="${PAD - 6}" y="${y(v) + 4}" text-anchor="end">${esc(
          (yMax * v).toPrecision(3),
        )}</text>`,
    )
    .join('');
  const xTicks = xLabels
    .map(([u, label]) => `<text x="${x(u)}" y="${H - PAD + 16}" text-anchor="middle">${esc(label)}</text>`)
    .join('');
  return `<figure><figcaption>${esc(title)}</figcaption><svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-size="11" font-family="sans-serif">${yTicks}${xTicks}<text x="12" y="${PAD - 14}">${esc(
    yUnit,
  )}</text><polyline fill="none" stroke="#2a6fdb" stroke-width="2" points="${path}"/></svg></figure>`;
}

/** renderHtml returns the report page of a run. */
export function renderHtml(r: LoadResult): string {
  const tl = r.timeline.length > 0 ? r.timeline : [r.throughput];
  const tMax = Math.max(1, ...tl);
  const through = chart(
    'Throughput over time (operations per second, after warm-up)',
    tl.map((v, i) => [tl.length === 1 ? 0 : i / (tl.length - 1), v / tMax]),
    [
      [0, '0 s'],
      [1, `${tl.length} s`],
    ],
    tMax,
    'ops/s',
  );
  const nines = (p: number): number => -Math.log10(Math.max(1e-6, 1 - p / 100));
  const maxN = 5;
  const lMax = Math.max(1, ...r.curve.map(([, us]) => us / 1000));
  const latency = chart(
    'Latency by percentile (ms)',
    r.curve.map(([p, us]) => [Math.min(1, nines(p) / maxN), us / 1000 / lMax]),
    [
      [0, 'p0'],
      [1 / maxN, 'p90'],
      [2 / maxN, 'p99'],
      [3 / maxN, 'p99.9'],
      [4 / maxN, 'p99.99'],
      [1, 'p99.999'],
    ],
    lMax,
    'ms',
  );
  const rows: [string, string][] = [
    ['target', r.target],
    [
      'workload',
      `mix ${r.options.mix}, ${r.options.keys} keys ${r.options.dist}, ${r.options.valueSize} B values`,
    ],
    [
      'connections',
      `${r.options.concurrency} on ${r.options.threads} thread(s)${r.options.rate > 0 ? `, open loop at ${r.options.rate}/s` : ''}`,
    ],
    ['machine', `node ${r.node}, ${r.cpus} CPUs`],
    ['requests', `${r.requests} (${r.ok} ok, ${r.errors} errors) in ${r.duration_s.toFixed(1)} s`],
    ['throughput', `${Math.round(r.throughput)} ops/s`],
    ...(['p50', 'p90', 'p99', 'p999', 'max'] as const).map((k): [string, string] => [
      k === 'p999' ? 'p99.9' : k,
      `${(r.latency[`${k}_us`] / 1000).toFixed(2)} ms`,
    ]),
    [
      'by status',
      Object.entries(r.by_status)
        .map(([s, n]) => `${s}: ${n}`)
        .join(', '),
    ],
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>distkv bench: ${esc(r.target)}</title>
<style>body{font-family:sans-serif;max-width:720px;margin:2em auto;color:#222}td{padding:2px 12px 2px 0}figure{margin:1.5em 0}figcaption{font-weight:bold;margin-bottom:4px}</style>
</head><body><h1>distkv bench</h1>
<table>${rows.map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`).join('')}</table>
${through}
${latency}
<script type="application/json" id="result">${JSON.stringify(r).replace(/</g, '\\u003c')}</script>
</body></html>
`;
}
