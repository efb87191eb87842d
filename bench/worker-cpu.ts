/**
 * `node dist/bench/worker-cpu.js --before DIR [--rounds 5] [--seconds 5] [--connections 50] [--durability fsync]`:
 * the shard worker's CPU per PUT and the PUT/s of this build against another built checkout
 * (docs/performance.md, "Pending writes as a grow-only table").
 *
 * Each build serves config/default.toml's layout (4 leaders and their 4 replicas) with one worker
 * (`--workers 1`) on free loopback ports and a fresh data directory.
 * Each round runs `wrk -t1 -c50 -d5s` of PUT /kv/key<N> (100-byte values, 100k keys) against
 * each build, alternated (before, after, before, ...), and reads the worker thread's utime + stime
 * from /proc/PID/task/TID/stat before and after: its CPU over the run divided by the requests answered
 * (wrk's req/s × seconds). Prints every round, the medians and the median of the per-round ratios
 * after ÷ before, with the load average.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { arg, choice, count, DURABILITIES } from './lib/args.js';
import { median } from './lib/compare-stats.js';
import { type Child, freePort, oneWorkerServeArgs, ROOT, startProcess } from './lib/processes.js';
import { threadTimes } from './lib/thread-stats.js';
import { hasWrk, runWrk } from './lib/wrk.js';

const BEFORE = arg('before', '');
const ROUNDS = count('rounds', 5);
const SECONDS = count('seconds', 5);
const CONNECTIONS = count('connections', 50);
const DURABILITY = choice('durability', 'fsync', DURABILITIES);

/**
 * workerCpuMs is the CPU time between two samples of the busiest thread other than the main one:
 * Node 20 does not name worker threads in /proc, and with one shard worker that thread is it (V8's
 * GC helpers and libuv's pool, which runs the fdatasyncs, use far less).
 */
function workerCpuMs(pid: number, before: Map<number, number>, after: Map<number, number>): number {
  let most = 0;
  for (const [tid, s] of after) if (tid !== pid) most = Math.max(most, (s - (before.get(tid) ?? 0)) * 1000);
  return most;
}

/** Build is one checkout's server. */
interface Build {
  name: string;
  child: Child;
  url: string;
  rounds: { rps: number; workerUs: number }[];
}

async function start(name: string, root: string, dir: string): Promise<Build> {
  const [lp, rp] = [await freePort(), await freePort()];
  const child = await startProcess(
    oneWorkerServeArgs(root, dir, lp, rp, DURABILITY),
    `http://127.0.0.1:${lp}/healthz`,
  );
  return { name, child, url: `http://127.0.0.1:${lp}`, rounds: [] };
}

async function main(): Promise<void> {
  if (BEFORE === '' || !hasWrk()) {
    process.stderr.write('worker-cpu: needs --before DIR (a built checkout) and wrk\n');
    process.exit(2);
  }
  const load = (): string =>
    loadavg()
      .map((l) => l.toFixed(1))
      .join(' ');
  console.log(
    `# worker-cpu | node ${process.version} | ${availableParallelism()} CPUs | wrk -t1 -c${CONNECTIONS} -d${SECONDS}s PUT x ${ROUNDS} rounds | durability ${DURABILITY} | load ${load()}`,
  );
  const dirs = [mkdtempSync(join(tmpdir(), 'distkv-wcpu-b-')), mkdtempSync(join(tmpdir(), 'distkv-wcpu-a-'))];
  const builds: Build[] = [];
  try {
    builds.push(await start('before', BEFORE, dirs[0]!));
    builds.push(await start('after', ROOT, dirs[1]!));
    for (let round = 1; round <= ROUNDS; round++) {
      for (const b of builds) {
        const pid = b.child.proc.pid!;
        const cpu0 = threadTimes(pid);
        const r = runWrk(b.url, 'put-kv.lua', SECONDS, CONNECTIONS);
        const cpuMs = workerCpuMs(pid, cpu0, threadTimes(pid));
        const requests = r.rps * SECONDS;
        const workerUs = (cpuMs * 1000) / requests;
        b.rounds.push({ rps: r.rps, workerUs });
        console.log(
          `round ${round} ${b.name}: ${Math.round(r.rps)} PUT/s, worker ${workerUs.toFixed(2)} µs/PUT, p99 ${r.p99Ms} ms, non-2xx ${r.non2xx}, errors ${r.errors}`,
        );
      }
    }
    const [before, after] = builds as [Build, Build];
    for (const b of builds)
      console.log(
        `median ${b.name}: ${Math.round(median(b.rounds.map((r) => r.rps)))} PUT/s, worker ${median(b.rounds.map((r) => r.workerUs)).toFixed(2)} µs/PUT`,
      );
    const ratio = (f: (r: { rps: number; workerUs: number }) => number): string =>
      median(after.rounds.map((r, i) => f(r) / f(before.rounds[i]!))).toFixed(3);
    console.log(
      `after ÷ before (median of per-round ratios): PUT/s ${ratio((r) => r.rps)}, worker µs/PUT ${ratio((r) => r.workerUs)} | load ${load()}`,
    );
  } finally {
    for (const b of builds) await b.child.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

await main();
