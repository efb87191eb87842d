/**
 * The server's work per RESP GET and SET at `-P 1`, by thread, counted by callgrind: the RESP twin
 * of bench/http-count.ts (same layout, same instrumentation window, same per-thread split), so a
 * change to the RESP request path is judged in instructions, which a loaded machine does not move.
 *
 * Each build serves config/default.toml's layout (4 leaders, 4 in-process replicas, `--workers 1`,
 * durability `--durability`, default `interval`) under `valgrind --tool=callgrind
 * --separate-threads=yes --instr-atstart=no` and node's `--single-threaded`. This process is the
 * client: `--connections` closed-loop connections (one command in flight each, as
 * `redis-benchmark -P 1`) first SET every key, then per mode send `--warmup` commands, the
 * counters are zeroed and instrumentation turned on, exactly `--requests` commands on random keys
 * (100-byte values) are answered, and the counters are dumped. Reported per command: the main
 * thread (the RESP listener), the shard worker (the busiest other thread) and all threads; with
 * `--before DIR` both builds, alternated per round. `--top N` prints each measurement's N most
 * costly functions of the main thread and the worker (bench/lib/callgrind-self.ts). `--baseline 1`
 * also counts the node:net + Map RESP server (bench/baseline/resp-server.ts, its SETs written and
 * fdatasynced per turn on its one thread): what distkv spends beyond it is the breakdown's subject
 * (docs/performance.md, "RESP SET at -P 1: where the time goes").
 *
 * Usage: node dist/bench/resp-count.js [--before DIR] [--modes get,set] [--rounds 1]
 *        [--requests 5000] [--warmup 15000] [--connections 50] [--keys 10000]
 *        [--durability interval] [--top 0] [--baseline 0]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { arg, choice, count, DURABILITIES } from './lib/args.js';
import { closedLoop } from './lib/closed-loop.js';
import { callgrindWindow, selfCosts } from './lib/callgrind-self.js';
import { median } from './lib/compare-stats.js';
import { oneWorkerServeArgs, ROOT, stopChild } from './lib/processes.js';
import { nodePort, RESP_OFFSET } from './lib/resp-servers.js';

const BEFORE = arg('before', '');
const MODES = arg('modes', 'get,set').split(',') as ('get' | 'set')[];
const ROUNDS = count('rounds', 1);
const REQUESTS = count('requests', 5000);
const WARMUP = count('warmup', 15000, 0);
const CONNECTIONS = count('connections', 50);
const KEYS = count('keys', 10000);
const DURABILITY = choice('durability', 'interval', DURABILITIES);
const TOP = count('top', 0, 0);
const BASELINE = arg('baseline', '0') === '1';
const VALUE = 'v'.repeat(100);

interface Figures {
  main: number;
  worker: number;
  total: number;
}

interface Server {
  name: string;
  proc: ChildProcess;
  port: number;
  cgOut: string;
  dumps: number;
  results: Map<string, Figures[]>;
}

function command(mode: 'get' | 'set', key: number): string {
  const k = `key:${key}`;
  return mode === 'set'
    ? `*3\r\n$3\r\nSET\r\n$${k.length}\r\n${k}\r\n$${VALUE.length}\r\n${VALUE}\r\n`
    : `*2\r\n$3\r\nGET\r\n$${k.length}\r\n${k}\r\n`;
}

/** replyEnd returns where the one reply at the start of `buf` ends, or -1 while incomplete; throws on an error reply. */
function replyEnd(buf: Buffer): number {
  const cr = buf.indexOf('\r\n');
  if (cr < 0) return -1;
  if (buf[0] === 0x2d) throw new Error(buf.toString('latin1', 0, cr));
  if (buf[0] !== 0x24) return cr + 2;
  const n = Number(buf.toString('latin1', 1, cr));
  if (n < 0) return cr + 2;
  return buf.length >= cr + 2 + n + 2 ? cr + 2 + n + 2 : -1;
}

/** load sends exactly `count` commands over CONNECTIONS closed-loop connections; `keyOf(i)` picks the i-th key. */
function load(
  port: number,
  mode: 'get' | 'set',
  count: number,
  keyOf: (i: number) => number,
  window?: { started: () => void; finished: () => void },
): Promise<void> {
  return closedLoop({
    port,
    connections: CONNECTIONS,
    count,
    request: (i) => command(mode, keyOf(i)),
    answerEnd: replyEnd,
    what: mode,
    ...window,
  });
}

async function start(name: string, root: string, dir: string): Promise<Server> {
  const [lp, rp] = [await nodePort(), await nodePort()];
  const cgOut = join(dir, 'cg');
  // The baseline listens on the RESP port itself, its log in `dir`.
  const serve =
    name === 'baseline'
      ? [
          join(ROOT, 'dist/bench/baseline/resp-server.js'),
          '--port',
          String(lp + RESP_OFFSET),
          '--log',
          dir,
          '--sync',
        ]
      : oneWorkerServeArgs(root, dir, lp, rp, DURABILITY);
  const proc = spawn(
    'valgrind',
    [
      '--tool=callgrind',
      '--separate-threads=yes',
      '--instr-atstart=no',
      `--callgrind-out-file=${cgOut}`,
      process.execPath,
      '--single-threaded',
      ...(TOP > 0 ? ['--perf-basic-prof'] : []),
      ...serve,
    ],
    { env: { ...process.env, DISTKV_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'ignore'] },
  );
  const deadline = Date.now() + 300_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`${name}: server exited with ${proc.exitCode}`);
    try {
      await load(lp + RESP_OFFSET, 'get', 1, () => 0);
      break;
    } catch {
      // not yet listening
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`${name}: no answer within 300 s`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { name, proc, port: lp + RESP_OFFSET, cgOut, dumps: 0, results: new Map() };
}

/** dumpTotals reads the per-thread instruction totals (and files) of callgrind's dump number `n`. */
function dumpTotals(server: Server, n: number): Map<number, { total: number; file: string }> {
  const dir = resolve(server.cgOut, '..');
  const out = new Map<number, { total: number; file: string }>();
  for (const f of readdirSync(dir).filter((f) => f.startsWith(`cg.${n}-`))) {
    const text = readFileSync(join(dir, f), 'utf8');
    const thread = Number(/^thread: (\d+)$/m.exec(text)?.[1]);
    const total = Number(/^(?:summary|totals): (\d+)$/m.exec(text)?.[1] ?? 0);
    out.set(thread, { total, file: join(dir, f) });
  }
  return out;
}

async function measure(server: Server, mode: 'get' | 'set'): Promise<Figures> {
  const random = (): number => Math.floor(Math.random() * KEYS);
  await load(server.port, mode, WARMUP, random);
  // The window holds the commands only, not the connections' set-up and tear-down (closed-loop.ts).
  await load(server.port, mode, REQUESTS, random, callgrindWindow(server.proc.pid!));
  const totals = dumpTotals(server, ++server.dumps);
  const main = totals.get(1);
  let worker: { total: number; file: string } | undefined;
  let total = 0;
  for (const [t, n] of totals) {
    total += n.total;
    if (t !== 1 && n.total > (worker?.total ?? 0)) worker = n;
  }
  if (TOP > 0)
    for (const [thread, t] of [
      ['main thread', main],
      ['worker', worker],
    ] as const) {
      if (t === undefined) continue;
      console.log(`  ${server.name} ${mode} ${thread}: self instructions per command`);
      for (const [name, cost] of selfCosts(t.file, `/tmp/perf-${server.proc.pid!}.map`).slice(0, TOP))
        console.log(`  ${(cost / REQUESTS).toFixed(0).padStart(8)}  ${name.slice(0, 140)}`);
    }
  return {
    main: (main?.total ?? NaN) / REQUESTS,
    worker: (worker?.total ?? NaN) / REQUESTS,
    total: total / REQUESTS,
  };
}

async function main(): Promise<void> {
  console.log(
    `# resp-count | node ${process.version} | ${availableParallelism()} CPUs | callgrind | instructions per command | ${MODES.join(',')} | durability ${DURABILITY} | c${CONNECTIONS} -P 1 | ${KEYS} keys | load ${loadavg()[0]!.toFixed(2)}`,
  );
  const tmp = mkdtempSync(join(tmpdir(), 'distkv-resp-count-'));
  const servers: Server[] = [];
  try {
    const builds: [string, string][] = [['after', ROOT]];
    if (BEFORE !== '') builds.unshift(['before', resolve(BEFORE)]);
    if (BASELINE) builds.push(['baseline', ROOT]);
    for (const [name, root] of builds) {
      const s = await start(name, root, mkdtempSync(join(tmp, `${name}-`)));
      servers.push(s);
      await load(s.port, 'set', Math.max(WARMUP, KEYS), (i) => i % KEYS);
    }
    const fmt = (f: Figures): string =>
      `main ${f.main.toFixed(0)}, worker ${f.worker.toFixed(0)}, all ${f.total.toFixed(0)}`;
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
      const med = (s: Server, k: keyof Figures): number =>
        median((s.results.get(mode) ?? []).map((f) => f[k]));
      for (const s of servers)
        console.log(
          `median ${s.name} ${mode}: ${fmt({ main: med(s, 'main'), worker: med(s, 'worker'), total: med(s, 'total') })}`,
        );
      if (BEFORE !== '') {
        const [b, a] = servers as [Server, Server];
        const r = (k: keyof Figures): string => (med(a, k) / med(b, k)).toFixed(3);
        console.log(`after ÷ before ${mode}: main ${r('main')}, worker ${r('worker')}, all ${r('total')}`);
      }
    }
  } finally {
    for (const s of servers) {
      s.proc.kill('SIGKILL');
      await stopChild(s.proc);
      if (TOP > 0) rmSync(`/tmp/perf-${s.proc.pid!}.map`, { force: true });
    }
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
