/**
 * `node dist/bench/front-door-bench.js --before DIR`: the HTTP front door alone (no workers, no
 * store: bench/front-door-server.ts), this checkout's against another build's, CPU per request of
 * its process's main thread under `wrk -t1 -c50` PUT and GET. It isolates what the front door costs
 * per request from the worker hop and the fsync, which dominate the noise of front-door-bench.ts.
 *
 * Both servers run for the whole bench, each in its own process, temp dir and loopback ports. A
 * pair runs the PUT and then the GET workload on one build and then on the other, the order
 * alternating between pairs so machine noise hits both alike. The figure of a run is the CPU time
 * (user + system, /proc/PID/task/PID/stat) of the server's main thread over the wrk run, divided
 * by the requests wrk completed. The report gives every pair, the medians, and the medians of the
 * per-pair ratios after ÷ before (µs per request, requests per second), with the load average.
 *
 * Usage: node dist/bench/front-door-bench.js --before DIR [--pairs 3] [--seconds 4]
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { arg } from './lib/args.js';
import { type Child, freePort, ROOT, startProcess } from './lib/processes.js';
import { hasWrk, runWrk } from './lib/wrk.js';

const BEFORE = arg('before', '');
const PAIRS = Math.max(1, Number(arg('pairs', '3')));
const SECONDS = Math.max(1, Math.round(Number(arg('seconds', '4'))));
const KEYS = 10000;
const WORKLOADS = [
  ['PUT', 'put-kv.lua'],
  ['GET', 'get-kv.lua'],
] as const;

/** Server is one build's running server. */
interface Server {
  name: string;
  child: Child;
  url: string;
}

/** mainCpuMsOf returns the CPU time of a process's main thread, from /proc (clock ticks of 10 ms). */
function mainCpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

async function start(name: string, dir: string): Promise<Server> {
  const port = await freePort();
  const child = await startProcess(
    [join(ROOT, 'dist', 'bench', 'front-door-server.js'), '--build', dir, '--port', String(port)],
    `http://127.0.0.1:${port}/kv/probe`,
  );
  return { name, child, url: `http://127.0.0.1:${port}` };
}

/** measure runs one workload on one server: main-thread µs per request and requests per second. */
function measure(s: Server, script: string): { us: number; rps: number } {
  const pid = s.child.proc.pid!;
  const cpu0 = mainCpuMsOf(pid);
  const r = runWrk(s.url, script, SECONDS, 50, { KEYS: String(KEYS) });
  const cpu1 = mainCpuMsOf(pid);
  if (r.non2xx > 0 || r.errors > 0)
    process.stdout.write(`  (${s.name} ${script}: ${r.non2xx} non-2xx, ${r.errors} errors)\n`);
  return { us: ((cpu1 - cpu0) * 1000) / (r.rps * SECONDS), rps: r.rps };
}

async function main(): Promise<void> {
  if (BEFORE === '' || !hasWrk()) {
    process.stderr.write('usage: node dist/bench/front-door-bench.js --before DIR (needs wrk)\n');
    process.exit(2);
  }
  const servers: Server[] = [];
  try {
    process.stdout.write(
      `# front-door-bench | node ${process.version} | ${availableParallelism()} CPUs | wrk -t1 -c50 -d${SECONDS}s | ${PAIRS} pairs | load ${loadavg()[0]!.toFixed(2)}\n`,
    );
    servers.push(await start('after', ROOT));
    servers.push(await start('before', resolve(BEFORE)));
    // Warm both builds up.
    for (const s of servers) runWrk(s.url, 'put-kv.lua', 2, 50, { KEYS: String(KEYS) });
    const us: Record<string, Record<string, number[]>> = { after: {}, before: {} };
    const rps: Record<string, Record<string, number[]>> = { after: {}, before: {} };
    for (let p = 0; p < PAIRS; p++) {
      const order = p % 2 === 0 ? servers : [...servers].reverse();
      for (const s of order)
        for (const [w, script] of WORKLOADS) {
          const m = measure(s, script);
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
    for (const [w] of WORKLOADS) {
      const a = us.after![w]!;
      const b = us.before![w]!;
      const usRatio = a.map((x, i) => x / b[i]!);
      const rpsRatio = rps.after![w]!.map((x, i) => x / rps.before![w]![i]!);
      const range = (xs: number[]): string => `${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)}`;
      process.stdout.write(
        `| ${w} | ${median(a).toFixed(2)} (${range(a)}) | ${median(b).toFixed(2)} (${range(b)}) | ${median(usRatio).toFixed(2)} (${range(usRatio)}) | ${median(rpsRatio).toFixed(2)} (${range(rpsRatio)}) |\n`,
      );
    }
    process.stdout.write(
      `load average at the end: ${loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}\n`,
    );
  } finally {
    for (const s of servers) await s.child.stop();
  }
}

await main();
