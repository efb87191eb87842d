/**
 * Watch figures (docs/performance.md, "Watch"), all from one run against one server process in
 * distkv's default layout (4 shards, leaders on one port, replicas on another, durability fsync):
 *   fanout    events/s delivered to 1, 100 and 1,000 SSE watchers of the busy prefix `key` while
 *             `wrk -t1 -c50` PUTs /kv/key<N> (100-byte values) for --seconds
 *   overhead  PUT throughput with 100 watchers ÷ with none: rounds alternate none / 100, --rounds
 *             each; the median ratio
 *   latency   PUT acknowledgement → delivery to a watcher, p50/p99, from a probe writer (one PUT
 *             at a time, every 5 ms) during the 100-watcher rounds; negative when the event
 *             arrived before the 204 did
 * The watchers are raw sockets in a child process, counting events; every loop is bounded in time.
 *
 * Usage: node dist/bench/watch-bench.js [--seconds 5] [--rounds 3]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultLayoutConfig, freePort, startProcess } from './lib/processes.js';
import { arg } from './lib/args.js';
import { hasWrk, runWrk } from './lib/wrk.js';

const SECONDS = Number(arg('seconds', '5'));
const ROUNDS = Number(arg('rounds', '3'));
const PUT_EVENT = Buffer.from('event: put');

/** Watchers are N raw SSE connections counting the put events they receive. */
class Watchers {
  readonly sockets: Socket[] = [];
  events = 0;
  hellos = 0;
  private readonly probe = new Map<string, number>();
  onProbe: ((key: string, at: number) => void) | undefined;

  static async open(port: number, n: number, prefix: string, probe = false): Promise<Watchers> {
    const w = new Watchers();
    for (let i = 0; i < n; i++) w.add(port, prefix, probe && i === 0);
    const deadline = Date.now() + 30000;
    while (w.hellos < n && Date.now() < deadline) await sleep(10);
    if (w.hellos < n) throw new Error(`only ${w.hellos} of ${n} watchers connected`);
    return w;
  }

  private add(port: number, prefix: string, probe: boolean): void {
    const s = connect(port, '127.0.0.1');
    s.setNoDelay(true);
    let tail = '';
    let helloSeen = false;
    s.on('data', (d: Buffer) => {
      if (!helloSeen && d.includes('event: hello')) {
        helloSeen = true;
        this.hellos++;
      }
      for (let at = d.indexOf(PUT_EVENT); at >= 0; at = d.indexOf(PUT_EVENT, at + 1)) this.events++;
      if (probe && this.onProbe !== undefined) {
        const now = performance.now();
        const text = tail + d.toString('latin1');
        for (const m of text.matchAll(/"key":"(lat\/\d+)"/g)) this.onProbe(m[1]!, now);
        tail = text.slice(-64);
      }
    });
    s.on('error', () => undefined);
    s.write(`GET /watch?prefix=${prefix} HTTP/1.1\r\nHost: b\r\nAccept: text/event-stream\r\n\r\n`);
    this.sockets.push(s);
  }

  close(): void {
    for (const s of this.sockets) s.destroy();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

async function main(): Promise<void> {
  if (!hasWrk()) throw new Error('wrk is not installed (apt-get install wrk)');
  const root = mkdtempSync(join(tmpdir(), 'distkv-watch-bench-'));
  const [lp, rp] = [await freePort(), await freePort()];
  const config = defaultLayoutConfig(root, lp, rp);
  const server = await startProcess(
    ['bin/distkv.js', 'serve', '--config', config, '--data-dir', join(root, 'data')],
    `http://127.0.0.1:${lp}/healthz`,
  );
  serverPid = server.proc.pid ?? 0;
  const results: Record<string, unknown> = { cpus: availableParallelism(), seconds: SECONDS, rounds: ROUNDS };
  try {
    const fanout: Record<string, unknown> = {};
    for (const n of [1, 100, 1000]) {
      const r = await measureFanout(lp, n);
      fanout[String(n)] = r;
      process.stderr.write(`fanout ${n}: ${JSON.stringify(r)}\n`);
    }
    results.fanout = fanout;

    const none: number[] = [];
    const with100: number[] = [];
    const latencies: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const n = await measureFanout(lp, 0);
      none.push(n.putPerS);
      const r = await measureFanout(lp, 100, true);
      with100.push(r.putPerS);
      latencies.push(...r.latencyMs);
      process.stderr.write(
        `round ${round + 1}: server cpu-s ${n.serverCpuS} without, ${r.serverCpuS} with 100 (watchers' process ${r.watcherCpuS})\n`,
      );
      process.stderr.write(
        `round ${round + 1}: none ${none[round]!} put/s, 100 watchers ${with100[round]!} put/s\n`,
      );
    }
    const ratios = none.map((n, i) => with100[i]! / n);
    results.overhead = {
      putPerSNone: none,
      putPerSWith100: with100,
      ratioMedian: Number(median(ratios).toFixed(3)),
    };
    results.latency = {
      samples: latencies.length,
      p50Ms: Number(pct(latencies, 50).toFixed(2)),
      p99Ms: Number(pct(latencies, 99).toFixed(2)),
    };
  } finally {
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  }
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}

/** FanoutResult is one load round's figures. */
interface FanoutResult {
  watchers: number;
  putPerS: number;
  eventsPerS: number;
  latencyMs: number[];
  /** serverCpuS and watcherCpuS: CPU seconds the server and the watchers' process used in the round. */
  serverCpuS: number;
  watcherCpuS: number;
}

/** ChildReport is what the watchers' process reports at the end of a round. */
interface ChildReport {
  events: number;
  seconds: number;
  latencyMs: number[];
  cpuS: number;
}

let serverPid = 0;

/** serverCpuSeconds reads the server process's user + system CPU time (Linux /proc; NaN elsewhere). */
function serverCpuSeconds(): number {
  try {
    const fields = readFileSync(`/proc/${serverPid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/**
 * measureFanout opens `n` watchers and a probe in a child process (so they read while wrk runs),
 * runs wrk for SECONDS, and reads the child's counts.
 */
async function measureFanout(port: number, n: number, probe = false): Promise<FanoutResult> {
  const { fork } = await import('node:child_process');
  const child = fork(new URL(import.meta.url), ['--child', String(port), String(n), probe ? '1' : '0'], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const ready = new Promise<void>((resolve, reject) => {
    child.once('message', () => {
      resolve();
    });
    child.once('exit', (code) => {
      reject(new Error(`watchers exited with ${String(code)}`));
    });
  });
  await ready;
  // wrk runs with spawnSync and blocks this process: the watchers read in their own (the child).
  const cpu0 = serverCpuSeconds();
  const load = runWrk(`http://127.0.0.1:${port}`, 'put-kv.lua', SECONDS, 50, { KEYS: '100000' });
  const report = new Promise<ChildReport>((resolve) => {
    child.once('message', (m) => {
      resolve(m as ChildReport);
    });
  });
  child.send('stop');
  const r = await report;
  const serverCpu = serverCpuSeconds() - cpu0;
  child.kill();
  return {
    watchers: n,
    putPerS: Math.round(load.rps),
    serverCpuS: Number(serverCpu.toFixed(2)),
    watcherCpuS: r.cpuS,
    eventsPerS: Math.round(r.events / r.seconds),
    latencyMs: r.latencyMs,
  };
}

/** child: the watchers side of measureFanout. */
async function child(port: number, n: number, probe: boolean): Promise<void> {
  const w = n > 0 ? await Watchers.open(port, n, 'key') : new Watchers();
  const probeWatcher = probe ? await Watchers.open(port, 1, 'lat/', true) : undefined;
  const acked = new Map<string, number>();
  const latencyMs: number[] = [];
  if (probeWatcher !== undefined)
    probeWatcher.onProbe = (key, at) => {
      const t = acked.get(key);
      if (t !== undefined) latencyMs.push(at - t);
      else acked.set(key, -at);
    };
  let stop = false;
  const stopped = (): boolean => stop;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  process.once('message', () => {
    stop = true;
  });
  process.send!('ready');
  let i = 0;
  const deadline = Date.now() + (SECONDS + 60) * 1000;
  while (!stopped() && Date.now() < deadline) {
    if (probe) {
      const key = `lat/${i++}`;
      const r = await fetch(`http://127.0.0.1:${port}/kv/${key}`, { method: 'PUT', body: 'x' });
      await r.arrayBuffer();
      const now = performance.now();
      const seen = acked.get(key);
      // The event may arrive before the 204: then its arrival time was stored (negated) first.
      if (seen !== undefined && seen < 0) latencyMs.push(-seen - now);
      else acked.set(key, now);
    }
    await sleep(5);
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuS = Number(((cpu.user + cpu.system) / 1e6).toFixed(2));
  process.send!({ events: w.events, seconds, latencyMs, cpuS } satisfies ChildReport);
  w.close();
  probeWatcher?.close();
}

if (process.argv[2] === '--child')
  void child(Number(process.argv[3]), Number(process.argv[4]), process.argv[5] === '1');
else
  main().catch((err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  });
