/**
 * Main-thread CPU per request of two builds' servers in alternated pairs, shared by
 * bench/main-thread-bench.ts (distkv's default layout) and bench/front-door-bench.ts (the HTTP
 * front door alone). A pair runs the PUT and then the GET workload (`wrk -t1 -c50`) on one build
 * and then on the other, the order alternating between pairs so machine noise hits both alike. The
 * figure of a run is the CPU time (user + system, /proc/PID/task/PID/stat) of the server's main
 * thread over the wrk run, divided by the requests wrk completed. The report gives every pair, the
 * medians, and the medians of the per-pair ratios after ÷ before (µs per request, requests per
 * second), with the load average.
 */
import { loadavg } from 'node:os';
import { median } from './compare-stats.js';
import type { Child } from './processes.js';
import { threadCpuSeconds } from './thread-stats.js';
import { runWrk } from './wrk.js';

const WORKLOADS = [
  ['PUT', 'put-kv.lua'],
  ['GET', 'get-kv.lua'],
] as const;

/** PairServer is one build's running server: `after` (this checkout) or `before`. */
export interface PairServer {
  name: 'after' | 'before';
  child: Child;
  url: string;
}

/** PairOptions say how long and how often to measure. */
export interface PairOptions {
  pairs: number;
  seconds: number;
  keys: number;
  /** warmSeconds of PUTs each server gets first (filling the keys the GETs ask for). */
  warmSeconds: number;
}

/** measure runs one workload on one server: main-thread µs per request and requests per second. */
function measure(s: PairServer, script: string, o: PairOptions): { us: number; rps: number } {
  const pid = s.child.proc.pid!;
  const cpu0 = threadCpuSeconds(pid, pid);
  const r = runWrk(s.url, script, o.seconds, 50, { KEYS: String(o.keys) });
  const cpu1 = threadCpuSeconds(pid, pid);
  if (r.non2xx > 0 || r.errors > 0)
    process.stdout.write(`  (${s.name} ${script}: ${r.non2xx} non-2xx, ${r.errors} errors)\n`);
  return { us: ((cpu1 - cpu0) * 1e6) / (r.rps * o.seconds), rps: r.rps };
}

/** runMainThreadPairs warms both servers up, measures `o.pairs` alternated pairs and prints the report. */
export function runMainThreadPairs(servers: readonly PairServer[], o: PairOptions): void {
  for (const s of servers) runWrk(s.url, 'put-kv.lua', o.warmSeconds, 50, { KEYS: String(o.keys) });
  const us: Record<string, Record<string, number[]>> = { after: {}, before: {} };
  const rps: Record<string, Record<string, number[]>> = { after: {}, before: {} };
  for (let p = 0; p < o.pairs; p++) {
    const order = p % 2 === 0 ? servers : [...servers].reverse();
    for (const s of order)
      for (const [w, script] of WORKLOADS) {
        const m = measure(s, script, o);
        (us[s.name]![w] ??= []).push(m.us);
        (rps[s.name]![w] ??= []).push(m.rps);
        process.stdout.write(
          `pair ${p + 1} ${s.name.padEnd(6)} ${w}: main thread ${m.us.toFixed(2)} µs/request, ${Math.round(m.rps)} req/s, load ${loadavg()[0]!.toFixed(2)}\n`,
        );
      }
  }
  process.stdout.write(
    '\n| workload | main µs after | main µs before | µs after ÷ before | req/s after ÷ before |\n|---|---|---|---|---|\n',
  );
  const range = (xs: number[]): string => `${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)}`;
  for (const [w] of WORKLOADS) {
    const a = us.after![w]!;
    const b = us.before![w]!;
    const usRatio = a.map((x, i) => x / b[i]!);
    const rpsRatio = rps.after![w]!.map((x, i) => x / rps.before![w]![i]!);
    process.stdout.write(
      `| ${w} | ${median(a).toFixed(2)} (${range(a)}) | ${median(b).toFixed(2)} (${range(b)}) | ${median(usRatio).toFixed(2)} (${range(usRatio)}) | ${median(rpsRatio).toFixed(2)} (${range(rpsRatio)}) |\n`,
    );
  }
  process.stdout.write(
    `load average at the end: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}\n`,
  );
}
