/**
 * The server's work per HTTP PUT and GET, by thread: instructions counted by callgrind (repeatable
 * on a loaded machine) and, with `--tool proc`, CPU µs from /proc/PID/task/TID/stat under wrk.
 *
 * Each build serves config/default.toml's layout (4 leaders, 4 in-process replicas, `--workers 1`,
 * durability `interval` unless `--durability` says otherwise) from its own temp dir and free
 * loopback ports. `--tool callgrind` (the default) runs the server under
 * `valgrind --tool=callgrind --separate-threads=yes --instr-atstart=no` (instrumented only while
 * measuring, so start-up and warm-up run several times faster) and node's `--single-threaded`
 * (V8's GC and compiler work stays on the thread that causes it, not V8's helpers); this process
 * is the client: `--connections` closed-loop connections send `--warmup` PUTs over the keys in
 * order (so every GET finds its key), then per mode `--warmup` more requests; then the connections
 * are opened, the counters zeroed and instrumentation turned on (`callgrind_control -z`, `-i on`),
 * exactly `--requests` requests on random keys (100-byte values) are answered, and the counters are
 * dumped (`callgrind_control -d`) before the connections close: the window holds no socket set-up
 * or tear-down (bench/lib/closed-loop.ts). A store idle for 5 s between windows flushes and
 * compacts in the next one (compaction-scheduler.ts), so the worker's totals swing by 10x: compare
 * its functions, not its total. Reported per request: the
 * main thread (the front door), the shard worker (the busiest other thread) and all threads; and
 * the main thread's `steady` cost, without V8's optimizing compiler and garbage collector
 * (callgrind-self.ts, steadyCost): a compile or a major GC that falls into one window moves the
 * total by thousands per request, so a change of a few hundred shows only in the steady figure.
 * `--tool proc` runs the server plainly and measures `wrk -t1 -c50 -d<seconds>s` per mode after a
 * warm-up of the same length, CPU per thread from /proc divided by the requests wrk counted: the
 * main thread (and its kernel part), the shard worker, the other threads (V8's GC helpers, libuv's
 * pool), and beside the server wrk's own CPU per request, the machine's idle share and the rate:
 * on 2 cores with no idle left, the rate is bound by the sum of all of them.
 * With `--before DIR` (another built checkout) both builds are measured, alternated per round.
 * With `--bare` (`--tool proc` only) the bare uWS+Map server of bench/baseline/server.ts is measured
 * too, in the same rounds: with `--log` in its own dir, one write per turn (`--durability interval`
 * or `none`) or one write and one fdatasync (`fsync`), the Node.js ceiling of compare.js's
 * put-bare-write and put-bare-fsync rows; its "worker" is its busiest thread besides the main one.
 * `--top N` (callgrind) also prints each measurement's N most costly functions of the main and the
 * worker thread, in self instructions per request, JavaScript named through node's
 * `--perf-basic-prof` map (bench/lib/callgrind-self.ts); `--callers TEXT` prints who calls the
 * main thread's functions whose name contains TEXT (bench/lib/callgrind-callers.ts), e.g.
 * `--callers ComputeAndSetRawHash` to find which string is hashed per request.
 *
 * Usage: node dist/bench/http-count.js [--before DIR] [--tool callgrind|proc] [--modes put,get]
 *        [--rounds 1] [--requests 5000] [--warmup 15000] [--connections 50] [--keys 10000]
 *        [--seconds 4] [--durability interval] [--top 0] [--callers TEXT] [--bare]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { arg, choice, count, DURABILITIES } from './lib/args.js';
import { closedLoop } from './lib/closed-loop.js';
import { callersOf } from './lib/callgrind-callers.js';
import { callgrindWindow, selfCosts, steadyCost } from './lib/callgrind-self.js';
import { median } from './lib/compare-stats.js';
import { freePort, oneWorkerServeArgs, ROOT, stopChild } from './lib/processes.js';
import { ThreadStats } from './lib/thread-stats.js';
import { hasWrk, runWrk } from './lib/wrk.js';

const BEFORE = arg('before', '');
const TOOL = arg('tool', 'callgrind');
const MODES = arg('modes', 'put,get').split(',') as ('put' | 'get')[];
const ROUNDS = count('rounds', 1);
const REQUESTS = count('requests', 5000);
const WARMUP = count('warmup', 15000, 0);
const CONNECTIONS = count('connections', 50);
const KEYS = count('keys', 10000);
const SECONDS = count('seconds', 4);
const DURABILITY = choice('durability', 'interval', DURABILITIES);
const TOP = count('top', 0, 0);
const CALLERS = arg('callers', '');
const BARE = process.argv.includes('--bare');
const VALUE = 'v'.repeat(100);
const HEAD_END = Buffer.from('\r\n\r\n');
const NO_PROC_FIGURES = { mainSystem: NaN, other: NaN, wrk: NaN, idle: NaN, rate: NaN };

/** Per-request figures of one measurement, by thread. */
interface Figures {
  main: number;
  /** steady is the main thread without V8's compiler and garbage collector (callgrind only; NaN otherwise). */
  steady: number;
  worker: number;
  total: number;
  /** The rest is `--tool proc`'s only (NaN under callgrind): the main thread's kernel part, the other threads, wrk's own CPU (µs per request), the machine's idle share, requests per second. */
  mainSystem: number;
  other: number;
  wrk: number;
  idle: number;
  rate: number;
}

/** Server is one build's running server. */
interface Server {
  name: string;
  proc: ChildProcess;
  port: number;
  cgOut: string;
  dumps: number;
  results: Map<string, Figures[]>;
}

function requestBytes(mode: 'put' | 'get', key: number): string {
  return mode === 'put'
    ? `PUT /kv/key${key} HTTP/1.1\r\nHost: b\r\nContent-Length: ${VALUE.length}\r\n\r\n${VALUE}`
    : `GET /kv/key${key} HTTP/1.1\r\nHost: b\r\n\r\n`;
}

/** answerEnd is where the one HTTP answer at the start of `buf` ends (-1 while incomplete); throws on a non-2xx. */
function answerEnd(buf: Buffer): number {
  const end = buf.indexOf(HEAD_END);
  if (end < 0) return -1;
  const head = buf.toString('latin1', 0, end);
  const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
  if (buf.length < end + 4 + length) return -1;
  if (head[9] !== '2') throw new Error(head.split('\r\n')[0]);
  return end + 4 + length;
}

/**
 * load sends exactly `count` requests over `CONNECTIONS` closed-loop connections (one request in
 * flight per connection) and resolves when all are answered; `keyOf(i)` picks the i-th key.
 * Throws on a non-2xx answer.
 */
function load(
  port: number,
  mode: 'put' | 'get',
  count: number,
  keyOf: (i: number) => number,
  window?: { started: () => void; finished: () => void },
): Promise<void> {
  return closedLoop({
    port,
    connections: CONNECTIONS,
    count,
    request: (i) => requestBytes(mode, keyOf(i)),
    answerEnd,
    what: mode,
    ...window,
  });
}

async function start(name: string, root: string, dir: string): Promise<Server> {
  const [lp, rp] = [await freePort(), await freePort()];
  const serve =
    name === 'bare'
      ? [
          join(root, 'dist', 'bench', 'baseline', 'server.js'),
          '--port',
          String(lp),
          ...(DURABILITY === 'fsync' ? ['--log', dir, '--sync'] : ['--log', dir]),
        ]
      : oneWorkerServeArgs(root, dir, lp, rp, DURABILITY);
  const cgOut = join(dir, 'cg');
  const proc =
    TOOL === 'callgrind'
      ? spawn(
          'valgrind',
          [
            '--tool=callgrind',
            '--separate-threads=yes',
            '--instr-atstart=no',
            `--callgrind-out-file=${cgOut}`,
            process.execPath,
            '--single-threaded',
            ...(TOP > 0 || CALLERS !== '' ? ['--perf-basic-prof'] : []),
            ...serve,
          ],
          { env: { ...process.env, DISTKV_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'ignore'] },
        )
      : spawn(process.execPath, serve, {
          env: { ...process.env, DISTKV_LOG_LEVEL: 'warn' },
          stdio: ['ignore', 'ignore', 'inherit'],
        });
  const deadline = Date.now() + 300_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`${name}: server exited with ${proc.exitCode}`);
    try {
      const r = await fetch(`http://127.0.0.1:${lp}/healthz`);
      await r.arrayBuffer();
      if (r.status === 200) break;
    } catch {
      // not yet listening
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`${name}: no answer within 300 s`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { name, proc, port: lp, cgOut, dumps: 0, results: new Map() };
}

/** dumpTotals reads the per-thread instruction totals (and files) of callgrind's dump number `n`. */
function dumpTotals(server: Server, n: number): Map<number, { total: number; file: string }> {
  const dir = resolve(server.cgOut, '..');
  const prefix = `cg.${n}-`;
  const out = new Map<number, { total: number; file: string }>();
  for (const f of readdirSync(dir).filter((f) => f.startsWith(prefix))) {
    const text = readFileSync(join(dir, f), 'utf8');
    const thread = Number(/^thread: (\d+)$/m.exec(text)?.[1]);
    const total = Number(/^(?:summary|totals): (\d+)$/m.exec(text)?.[1] ?? 0);
    out.set(thread, { total, file: join(dir, f) });
  }
  return out;
}

/** printTop prints a thread's TOP most costly functions, in instructions per request. */
function printTop(server: Server, mode: string, thread: string, file: string): void {
  console.log(`  ${server.name} ${mode} ${thread}: self instructions per request`);
  for (const [name, cost] of selfCosts(file, perfMapOf(server)).slice(0, TOP))
    console.log(`  ${(cost / REQUESTS).toFixed(0).padStart(8)}  ${name.slice(0, 140)}`);
}

/** printCallers prints who calls the main thread's functions named like CALLERS, in inclusive instructions per request. */
function printCallers(server: Server, mode: string, file: string): void {
  console.log(
    `  ${server.name} ${mode} main thread: callers of *${CALLERS}*, inclusive instructions per request`,
  );
  for (const [caller, callee, cost] of callersOf(file, perfMapOf(server), CALLERS).slice(0, 20))
    console.log(
      `  ${(cost / REQUESTS).toFixed(0).padStart(8)}  ${caller.slice(0, 100)} -> ${callee.slice(0, 60)}`,
    );
}

function perfMapOf(server: Server): string {
  return `/tmp/perf-${server.proc.pid!}.map`;
}

async function measure(server: Server, mode: 'put' | 'get'): Promise<Figures> {
  const random = (): number => Math.floor(Math.random() * KEYS);
  if (TOOL === 'callgrind') {
    await load(server.port, mode, WARMUP, random);
    // The window holds the requests only, not the connections' set-up and tear-down (closed-loop.ts).
    await load(server.port, mode, REQUESTS, random, callgrindWindow(server.proc.pid!));
    const totals = dumpTotals(server, ++server.dumps);
    const main = totals.get(1);
    let worker: { total: number; file: string } | undefined;
    let total = 0;
    for (const [t, n] of totals) {
      total += n.total;
      if (t !== 1 && n.total > (worker?.total ?? 0)) worker = n;
    }
    if (TOP > 0 && main !== undefined && worker !== undefined) {
      printTop(server, mode, 'main thread', main.file);
      printTop(server, mode, 'worker thread', worker.file);
    }
    if (CALLERS !== '' && main !== undefined) printCallers(server, mode, main.file);
    return {
      main: (main?.total ?? NaN) / REQUESTS,
      steady: main === undefined ? NaN : steadyCost(selfCosts(main.file, perfMapOf(server))) / REQUESTS,
      worker: (worker?.total ?? NaN) / REQUESTS,
      total: total / REQUESTS,
      ...NO_PROC_FIGURES,
    };
  }
  const url = `http://127.0.0.1:${server.port}`;
  const script = mode === 'put' ? 'put-kv.lua' : 'get-kv.lua';
  runWrk(url, script, SECONDS, CONNECTIONS, { KEYS: String(KEYS) });
  const stats = new ThreadStats(server.proc.pid!, 1);
  const [children, cpu] = [childrenCpuSeconds(), machineTicks()];
  stats.begin();
  const r = runWrk(url, script, SECONDS, CONNECTIONS, { KEYS: String(KEYS) });
  const split = stats.end();
  const [childrenAfter, cpuAfter] = [childrenCpuSeconds(), machineTicks()];
  const us = 1e6 / (r.rps * SECONDS);
  return {
    main: split.main * us,
    steady: NaN,
    worker: split.workers * us,
    total: split.total * us,
    mainSystem: split.mainSystem * us,
    other: split.other * us,
    wrk: (childrenAfter - children) * us,
    idle: (cpuAfter.idle - cpu.idle) / (cpuAfter.total - cpu.total),
    rate: r.rps,
  };
}

/** childrenCpuSeconds is the CPU (user + system) of this process's waited-for children, from /proc/self/stat. */
function childrenCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  // after the command's closing parenthesis: field 3 is the state, cutime field 16, cstime 17
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) * 0.01;
}

/** machineTicks reads the machine's idle (idle + iowait) and total CPU ticks from /proc/stat. */
function machineTicks(): { idle: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { idle: f[3]! + f[4]!, total: f.reduce((a, b) => a + b, 0) };
}

/** medians is each figure's median over `all`. */
function medians(all: readonly Figures[]): Figures {
  const out = {} as Figures;
  for (const k of Object.keys(NO_PROC_FIGURES).concat(
    'main',
    'steady',
    'worker',
    'total',
  ) as (keyof Figures)[])
    out[k] = median(all.map((f) => f[k]));
  return out;
}

async function main(): Promise<void> {
  if (TOOL === 'proc' && !hasWrk()) throw new Error('--tool proc needs wrk');
  if (BARE && TOOL !== 'proc') throw new Error('--bare needs --tool proc');
  const unit = TOOL === 'callgrind' ? 'instructions' : 'CPU µs';
  console.log(
    `# http-count | node ${process.version} | ${availableParallelism()} CPUs | ${TOOL} | ${unit} per request | ${MODES.join(',')} | durability ${DURABILITY} | c${CONNECTIONS} | ${KEYS} keys | load ${loadavg()[0]!.toFixed(2)}`,
  );
  const tmp = mkdtempSync(join(tmpdir(), 'distkv-http-count-'));
  const servers: Server[] = [];
  try {
    const builds: [string, string][] = [['after', ROOT]];
    if (BEFORE !== '') builds.unshift(['before', resolve(BEFORE)]);
    if (BARE) builds.push(['bare', ROOT]);
    for (const [name, root] of builds) {
      const s = await start(name, root, mkdtempSync(join(tmp, `${name}-`)));
      servers.push(s);
      await load(s.port, 'put', Math.max(WARMUP, KEYS), (i) => i % KEYS);
    }
    const fmt = (f: Figures): string =>
      TOOL === 'callgrind'
        ? `main ${f.main.toFixed(0)} (steady ${f.steady.toFixed(0)}), worker ${f.worker.toFixed(0)}, all ${f.total.toFixed(0)}`
        : `main ${f.main.toFixed(2)} (kernel ${f.mainSystem.toFixed(2)}), worker ${f.worker.toFixed(2)}, other ${f.other.toFixed(2)}, all ${f.total.toFixed(2)}; wrk ${f.wrk.toFixed(2)}; idle ${(f.idle * 100).toFixed(0)} %; ${(f.rate / 1000).toFixed(1)}k/s`;
    for (let round = 1; round <= ROUNDS; round++) {
      const order = round % 2 === 1 ? servers : [...servers].reverse();
      for (const mode of MODES)
        for (const s of order) {
          const f = await measure(s, mode);
          s.results.set(mode, [...(s.results.get(mode) ?? []), f]);
          console.log(`round ${round} ${s.name} ${mode}: ${fmt(f)}`);
        }
    }
    for (const mode of MODES) {
      for (const s of servers)
        console.log(`median ${s.name} ${mode}: ${fmt(medians(s.results.get(mode) ?? []))}`);
      const built = servers.filter((s) => s.name !== 'bare');
      if (built.length === 2) {
        const [b, a] = built as [Server, Server];
        const [mb, ma] = [medians(b.results.get(mode) ?? []), medians(a.results.get(mode) ?? [])];
        const r = (k: keyof Figures): string => (ma[k] / mb[k]).toFixed(3);
        console.log(
          `after ÷ before ${mode}: main ${r('main')} (${TOOL === 'callgrind' ? `steady ${r('steady')}` : `kernel ${r('mainSystem')}`}), worker ${r('worker')}, all ${r('total')}${TOOL === 'callgrind' ? '' : `, rate ${r('rate')}`}`,
        );
      }
      const bare = servers.find((s) => s.name === 'bare');
      if (bare !== undefined) {
        const mb = medians(bare.results.get(mode) ?? []);
        for (const s of built) {
          const m = medians(s.results.get(mode) ?? []);
          const d = (k: keyof Figures): string => (m[k] - mb[k]).toFixed(2);
          console.log(
            `${s.name} − bare ${mode}, µs per request: main +${d('main')} (kernel +${d('mainSystem')}), worker +${d('worker')}, other +${d('other')}, all +${d('total')}; rate ${(m.rate / mb.rate).toFixed(3)} of bare`,
          );
        }
      }
    }
  } finally {
    for (const s of servers) {
      if (TOOL === 'callgrind') s.proc.kill('SIGKILL');
      await stopChild(s.proc);
      if (TOP > 0 || CALLERS !== '') rmSync(perfMapOf(s), { force: true });
    }
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
