/**
 * Watch figures (docs/performance.md, "Watch"), all from one run against one server process in
 * distkv's default layout (4 shards, leaders on one port, replicas on another, durability fsync):
 *   fanout    events/s delivered to 1, 100 and 1,000 SSE watchers of the busy prefix `key` while
 *             `wrk -t1 -c50` PUTs /kv/key<N> (100-byte values) for --seconds
 *   overhead  PUT throughput with 100 watchers ÷ with none: rounds alternate none / 100, --rounds
 *             each (which of the two goes first alternates too); the median ratio; and the
 *             server's CPU per PUT in each (from /proc). With `--plain 1` each round also runs wrk
 *             alone (no watchers' process, no probe writer: compare.js's put-fsync load) and
 *             reports none ÷ that: what the bench's own processes cost a round with no watchers
 *   latency   PUT acknowledgement → delivery, p50/p99, to a watcher of the busy prefix (one of the
 *             100 in the 100-watcher rounds), from a probe writer that PUTs /kv/keylat/<i> one at a
 *             time every 5 ms in every round; negative when the event arrived before the 204 did
 *   baseline  with --baseline DIR (another built checkout, e.g. main), the overhead and latency
 *             rounds also run against a server started from DIR, in the same run: each round
 *             alternates this build and DIR's, and the figures are reported side by side
 * Every round is verified: each watcher must receive exactly one event per write the leaders
 * logged in the round (the sum of their last_seq moves, /cluster), and over the binary stream
 * every change's seq must be above the previous one of its shard, or the bench fails.
 * The watchers are raw sockets in a child process that ask for the binary stream's version 2
 * (docs/watch.md; `--watch-format v1` asks for version 1, `sse` for SSE; a server answers the
 * newest it has of what was asked) and count its put frames, reading each
 * frame's header where it lies, or, from a server that answers SSE (a baseline without the
 * binary stream), count `event: put` in the raw bytes they read (lib/watch-fixture.ts: one
 * reused buffer, nothing allocated per event), and
 * the probe writes over one keep-alive socket: the bench's own CPU stays small and the same in
 * both kinds of round. The child also reports its reads per second per watcher (about the
 * server's flushes per second to each, when it keeps up). Every loop is bounded in time.
 *
 * Each round also reports where the CPU went, in µs per write (lib/thread-stats.ts): the server's
 * main thread, its workers and its other threads, and the watchers' process's main thread and
 * other threads; and the bytes each watcher read per write.
 *
 * `--watchers-priority idle` runs the watchers' process under SCHED_IDLE (`chrt --idle`): it gets a CPU
 * only when the server, wrk and the probe leave one idle. On a machine where the watchers share the
 * server's CPUs, their own work (parsing every event for 100 watchers) otherwise competes with the
 * server for the same cores, which a deployment's watchers on other machines do not; the rounds stay
 * verified, so watchers that fall behind far enough to be cut off still fail the bench.
 *
 * Each server first takes --warmup seconds of untimed PUTs (1; compare.js does the same).
 *
 * `npm run bench:watch -- [OPTIONS]` builds the checkout, then runs it; on a built checkout:
 * Usage: node dist/bench/watch-bench.js [--seconds 5] [--rounds 3] [--baseline DIR] [--fanout 1,100,1000]
 *        [--watch-format v2|v1|sse] [--values 1|0] [--port P (a running server) [--workers N]]
 *        [--watchers-priority normal|idle] [--plain 0|1] [--warmup 1] [--watchers 100 (overhead rounds)]
 * Internal: `--child PORT N PROBE` is the watchers' process (this script forks it).
 */
import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultLayoutConfig, freePort, startProcess } from './lib/processes.js';
import { arg, choice, count, counts, usageError } from './lib/args.js';
import { requireTools } from './lib/tools.js';
import { BINARY_MEDIA_TYPE } from '../src/watch/watch-binary-format.js';
import { pidListeningOn, type ThreadSplit, ThreadStats } from './lib/thread-stats.js';
import { ProbeWriter, StreamCounter } from './lib/watch-fixture.js';
import { runWrk } from './lib/wrk.js';
import { median } from './lib/compare-stats.js';

const SECONDS = count('seconds', 5);
const ROUNDS = count('rounds', 3);
const BASELINE = arg('baseline', '');
// the watcher counts of the fan-out figures (empty: skip them)
const FANOUT = arg('fanout', '1,100,1000') === '' ? [] : counts('fanout', '1,100,1000');
// what the watchers ask for: the binary stream's version 2 or 1 (a server without it answers
// SSE; one without version 2 answers version 1) or SSE
const WATCH_FORMAT = choice('watch-format', 'v2', ['v2', 'v1', 'sse']);
const ACCEPTS: Record<string, string> = {
  v1: `${BINARY_MEDIA_TYPE}, text/event-stream`,
  v2: `${BINARY_MEDIA_TYPE}; version=2, text/event-stream`,
  sse: 'text/event-stream',
};
const ACCEPT = ACCEPTS[WATCH_FORMAT];
// whether the watchers ask for values (values=0 leaves them out of put events)
const VALUES = choice('values', '1', ['1', '0']);
// attach to a server already running on this port (its layout must be distkv's default)
const PORT = count('port', 0, 0);
// how many of the server's busiest threads besides the main one are its workers (thread-stats.ts):
// the server's own default, CPUs minus one (at least one); more would count its busiest helper
// thread (libuv's pool running the fdatasyncs) as a worker
const WORKERS = count('workers', Math.max(1, availableParallelism() - 1));
// also measure each round's PUTs with no watchers' process at all (wrk alone: what compare.js runs)
const PLAIN = choice('plain', '0', ['0', '1']) === '1';
// seconds of untimed PUTs against each server before its first round (as compare.js warms up)
const WARMUP_S = count('warmup', 1, 0);
// the watchers' process's scheduling: `normal` (the bench's own) or `idle` (SCHED_IDLE)
const WATCHERS_PRIORITY = choice('watchers-priority', 'normal', ['normal', 'idle']);
// the watchers of the overhead rounds (issue 15's figure is 100; the JSON keeps its `With100` names)
const OVERHEAD_WATCHERS = count('watchers', 100);
if (process.argv[2] !== '--child') requireTools(['wrk']);
const DELIVERY_TIMEOUT_MS = 60000;
const PROBE_KEY = /"key":"keylat\/(\d+)"/g;

/** Watchers are N raw watch connections counting the put events they receive. */
class Watchers {
  readonly sockets: Socket[] = [];
  readonly counters: StreamCounter[] = [];
  hellos = 0;
  /** reads counts the reads of every socket (one per server flush while the reader keeps up). */
  reads = 0;
  /** bytes counts the bytes read by every socket. */
  bytes = 0;
  /** onProbe is told when the probe watcher (the last one) sees probe write `i`. */
  onProbe: ((i: number, at: number) => void) | undefined;
  // one buffer for every read of every socket: a read is counted before the next one is made
  private readonly buffer = Buffer.allocUnsafe(256 * 1024);

  static async open(port: number, n: number, probe: boolean): Promise<Watchers> {
    const w = new Watchers();
    for (let i = 0; i < n; i++) w.add(port, probe && i === n - 1);
    const deadline = Date.now() + 30000;
    while (w.hellos < n && Date.now() < deadline) await sleep(10);
    if (w.hellos < n) throw new Error(`only ${w.hellos} of ${n} watchers connected`);
    return w;
  }

  /** counts returns how many put events each watcher has received. */
  counts(): number[] {
    return this.counters.map((c) => c.count);
  }

  /** disorder counts the changes, over all binary streams, that were not above their shard's last. */
  disorder(): number {
    return this.counters.reduce((sum, c) => sum + c.bin.disorder, 0);
  }

  /** mode is what the server answered: the binary stream (`bin1`, `bin2`) or SSE. */
  mode(): string {
    return [
      ...new Set(this.counters.map((c) => (c.mode === 'bin' ? `bin${String(c.bin.version)}` : c.mode))),
    ].join(',');
  }

  private add(port: number, probe: boolean): void {
    const counter = new StreamCounter();
    this.counters.push(counter);
    let helloSeen = false;
    let text = '';
    if (probe)
      counter.bin.onKey = (key) => {
        if (this.onProbe !== undefined && key.startsWith('keylat/'))
          this.onProbe(Number(key.slice(7)), performance.now());
      };
    const s = connect({
      port,
      host: '127.0.0.1',
      onread: {
        buffer: this.buffer,
        callback: (nread: number) => {
          this.reads++;
          this.bytes += nread;
          counter.add(this.buffer, nread);
          if (!helloSeen && counter.hello) {
            helloSeen = true;
            this.hellos++;
          }
          if (probe && this.onProbe !== undefined && counter.mode === 'sse') {
            const now = performance.now();
            text = text.slice(-40) + this.buffer.toString('latin1', 0, nread);
            for (const m of text.matchAll(PROBE_KEY)) this.onProbe(Number(m[1]), now);
            text = text.slice(-40);
          }
          return true;
        },
      },
    });
    s.setNoDelay(true);
    s.on('error', () => undefined);
    s.write(`GET /watch?prefix=key&values=${VALUES} HTTP/1.1\r\nHost: b\r\nAccept: ${ACCEPT!}\r\n\r\n`);
    this.sockets.push(s);
  }

  close(): void {
    for (const s of this.sockets) s.destroy();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

/** threadText writes a ThreadSplit of µs per write: total (main, its kernel part, + workers + other). */
function threadText(t: ThreadSplit): string {
  return `${t.total} µs/put = main ${t.main} (kernel ${t.mainSystem}) + workers ${t.workers} + other ${t.other}`;
}

/** medianSplit is the median of each kind of thread over rounds. */
function medianSplit(xs: ThreadSplit[]): ThreadSplit {
  return {
    main: median(xs.map((x) => x.main)),
    mainSystem: median(xs.map((x) => x.mainSystem)),
    workers: median(xs.map((x) => x.workers)),
    other: median(xs.map((x) => x.other)),
    total: median(xs.map((x) => x.total)),
  };
}

/** FanoutResult is one load round's figures. */
interface FanoutResult {
  watchers: number;
  putPerS: number;
  /** loggedPerS: the writes the leaders logged per second of the round (wrk's PUTs that were written; the probe's too). */
  loggedPerS: number;
  /** failedPuts: wrk's requests not answered 2xx/3xx, and its socket errors. */
  failedPuts: number;
  /** putP50Ms and putP99Ms: wrk's PUT latency (request sent → 204 read). */
  putP50Ms: number;
  putP99Ms: number;
  /** eventsPerS: events delivered to all watchers ÷ the time from the load's start to the last delivery. */
  eventsPerS: number;
  /** serverUsPerPut and watcherUsPerPut: CPU µs the server and the watchers' process used per write. */
  serverUsPerPut: number;
  watcherUsPerPut: number;
  /** server and watchersThreads: CPU µs per write by kind of thread (thread-stats.ts). */
  server: ThreadSplit;
  watchersThreads: ThreadSplit;
  /** bytesPerPut: bytes each watcher read per write (0 with no watchers). */
  bytesPerPut: number;
  /** readsPerS: reads per second per watcher, over the load and the delivery of its last event. */
  readsPerS: number;
  /** stream is what the watchers were answered with: `bin` or `sse` (empty with no watchers). */
  stream: string;
  latencyMs: number[];
}

/** ChildReport is what the watchers' process reports once every watcher has every event. */
interface ChildReport {
  min: number;
  max: number;
  doneAt: number;
  latencyMs: number[];
  cpuS: number;
  reads: number;
  bytes: number;
  disorder: number;
  mode: string;
}

/** Bench holds the server under test. */
class Bench {
  private readonly port: number;
  private readonly pid: number;
  private readonly threads: ThreadStats;
  constructor(port: number, pid: number) {
    this.port = port;
    this.pid = pid;
    this.threads = new ThreadStats(pid, WORKERS);
  }

  /** serverCpuSeconds reads the server's user + system CPU time (Linux /proc; NaN elsewhere). */
  private serverCpuSeconds(): number {
    try {
      const fields = readFileSync(`/proc/${this.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(fields[11]) + Number(fields[12])) / 100;
    } catch {
      return NaN;
    }
  }

  /** loggedWrites is the sum of the leaders' last seqs (/cluster). */
  private async loggedWrites(): Promise<number> {
    const r = await fetch(`http://127.0.0.1:${this.port}/cluster`);
    const c = (await r.json()) as { shards: { leader: { last_seq?: number } }[] };
    return c.shards.reduce((sum, s) => sum + (s.leader.last_seq ?? 0), 0);
  }

  /**
   * quiet waits (at most 5 s) until the logged writes stop moving: wrk leaves up to one PUT per
   * connection in flight when it stops, logged after it returned. A round's watchers start at
   * "now", which must not be before those: they would receive writes counted in no round.
   */
  private async quiet(): Promise<void> {
    let last = await this.loggedWrites();
    for (const until = Date.now() + 5000; Date.now() < until;) {
      await sleep(100);
      const now = await this.loggedWrites();
      if (now === last) return;
      last = now;
    }
  }

  /** warm runs wrk untimed for `seconds` (the server's first rounds are otherwise its warm-up). */
  warm(seconds: number): void {
    if (seconds > 0) runWrk(`http://127.0.0.1:${this.port}`, 'put-kv.lua', seconds, 50, { KEYS: '100000' });
  }

  /** plain runs wrk alone for SECONDS: no watchers' process, no probe writer (compare.js's put-fsync load). */
  async plain(): Promise<FanoutResult> {
    await this.quiet();
    const seq0 = await this.loggedWrites();
    const cpu0 = this.serverCpuSeconds();
    this.threads.begin();
    const load = runWrk(`http://127.0.0.1:${this.port}`, 'put-kv.lua', SECONDS, 50, { KEYS: '100000' });
    await this.quiet();
    const writes = (await this.loggedWrites()) - seq0;
    const cpu = this.serverCpuSeconds() - cpu0;
    const none = { main: NaN, mainSystem: NaN, workers: NaN, other: NaN, total: NaN };
    return {
      watchers: 0,
      putPerS: Math.round(load.rps),
      loggedPerS: Math.round(writes / SECONDS),
      failedPuts: load.non2xx + load.errors,
      putP50Ms: load.p50Ms,
      putP99Ms: load.p99Ms,
      eventsPerS: 0,
      serverUsPerPut: Math.round((cpu * 1e6) / writes),
      watcherUsPerPut: 0,
      server: perWrite(this.threads.end(), writes),
      watchersThreads: none,
      bytesPerPut: 0,
      readsPerS: 0,
      stream: '',
      latencyMs: [],
    };
  }

  /**
   * round opens `n` watchers in a child process (the last one timing the probe's writes when
   * `probe`), runs wrk for SECONDS with the probe writing, then waits until every watcher has
   * every write of the round.
   */
  async round(n: number, probe: boolean): Promise<FanoutResult> {
    await this.quiet();
    const child = fork(
      new URL(import.meta.url),
      [
        '--child',
        String(this.port),
        String(n),
        probe ? '1' : '0',
        ...['--watch-format', WATCH_FORMAT, '--values', VALUES, '--seconds', String(SECONDS)],
      ],
      {
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      },
    );
    try {
      await ask(child, undefined);
      // every thread the watchers' process has by now (new ones inherit the policy)
      if (WATCHERS_PRIORITY === 'idle')
        execFileSync('chrt', ['--all-tasks', '--idle', '--pid', '0', String(child.pid)]);
      const seq0 = await this.loggedWrites();
      const cpu0 = this.serverCpuSeconds();
      const watcherThreads = new ThreadStats(child.pid ?? 0, 0);
      this.threads.begin();
      watcherThreads.begin();
      const t0 = Date.now();
      child.send('go');
      // wrk runs with spawnSync and blocks this process: the watchers read in their own (the child).
      const load = runWrk(`http://127.0.0.1:${this.port}`, 'put-kv.lua', SECONDS, 50, { KEYS: '100000' });
      await ask(child, 'stop');
      const writes = (await this.loggedWrites()) - seq0;
      const r = await ask<ChildReport>(child, { expect: writes });
      const cpu = this.serverCpuSeconds() - cpu0;
      const server = perWrite(this.threads.end(), writes);
      const watchersThreads = perWrite(watcherThreads.end(), writes);
      if (r.min !== writes || r.max !== writes)
        throw new Error(`${n} watchers received ${r.min}..${r.max} events each; ${writes} were written`);
      if (r.disorder !== 0) throw new Error(`${n} watchers received ${r.disorder} changes out of order`);
      return {
        watchers: n,
        putPerS: Math.round(load.rps),
        loggedPerS: Math.round(writes / SECONDS),
        failedPuts: load.non2xx + load.errors,
        putP50Ms: load.p50Ms,
        putP99Ms: load.p99Ms,
        eventsPerS: Math.round((n * writes) / ((r.doneAt - t0) / 1000)),
        serverUsPerPut: Math.round((cpu * 1e6) / writes),
        watcherUsPerPut: Math.round((r.cpuS * 1e6) / writes),
        server,
        watchersThreads,
        bytesPerPut: n === 0 ? 0 : Math.round(r.bytes / n / writes),
        readsPerS: n === 0 ? 0 : Math.round(r.reads / n / ((r.doneAt - t0) / 1000)),
        stream: r.mode,
        latencyMs: r.latencyMs,
      };
    } finally {
      child.kill();
    }
  }
}

/** perWrite turns an interval's CPU seconds into µs per write, rounded to 0.1. */
function perWrite(split: ThreadSplit, writes: number): ThreadSplit {
  const us = (s: number): number => Math.round((s * 1e7) / writes) / 10;
  return {
    main: us(split.main),
    mainSystem: us(split.mainSystem),
    workers: us(split.workers),
    other: us(split.other),
    total: us(split.total),
  };
}

/** ask sends `msg` to the child (when given) and resolves with its next message. */
function ask<T = unknown>(child: ChildProcess, msg: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null): void => {
      reject(new Error(`watchers exited with ${String(code)}`));
    };
    child.once('exit', onExit);
    child.once('message', (m) => {
      child.off('exit', onExit);
      resolve(m as T);
    });
    if (msg !== undefined) child.send(msg as string);
  });
}

/** Server is one server under test: this build's or the baseline's, with its data in `root`. */
interface Server {
  bench: Bench;
  stop(): Promise<void>;
}

/** attach measures a server already running on `port` (found in /proc: it must be on this machine). */
function attach(port: number): Server {
  const pid = pidListeningOn(port);
  if (pid === undefined) throw new Error(`no process of this machine listens on port ${port}`);
  return { bench: new Bench(port, pid), stop: () => Promise.resolve() };
}

async function startServer(root: string, entry: string): Promise<Server> {
  mkdirSync(root, { recursive: true });
  const [lp, rp] = [await freePort(), await freePort()];
  const config = defaultLayoutConfig(root, lp, rp);
  const server = await startProcess(
    [entry, 'serve', '--config', config, '--data-dir', join(root, 'data')],
    `http://127.0.0.1:${lp}/healthz`,
  );
  return { bench: new Bench(lp, server.proc.pid ?? 0), stop: () => server.stop() };
}

/** Overhead is the PUT throughput with 100 watchers ÷ none of one server, round by round. */
class Overhead {
  readonly none: FanoutResult[] = [];
  readonly with100: FanoutResult[] = [];
  readonly plain: FanoutResult[] = [];

  /**
   * round measures none and 100 watchers, in turn first (a server's state only grows, its data and
   * its memtables' flushes: neither kind of round always gets the later, fuller half), and with
   * --plain wrk alone after them.
   */
  async round(name: string, bench: Bench, round: number): Promise<void> {
    let a: FanoutResult;
    let b: FanoutResult;
    if (round % 2 === 0) {
      a = await bench.round(0, false);
      b = await bench.round(OVERHEAD_WATCHERS, true);
    } else {
      b = await bench.round(OVERHEAD_WATCHERS, true);
      a = await bench.round(0, false);
    }
    this.none.push(a);
    this.with100.push(b);
    const p = PLAIN ? await bench.plain() : undefined;
    if (p !== undefined) this.plain.push(p);
    const plainText =
      p === undefined ? '' : `; wrk alone ${p.putPerS} put/s (server ${threadText(p.server)})`;
    process.stderr.write(
      `${name} round ${round + 1}: none ${a.putPerS} put/s (${a.loggedPerS} logged/s, ${a.failedPuts} failed; p50/p99 ${a.putP50Ms}/${a.putP99Ms} ms; server ${threadText(a.server)}), ` +
        `${OVERHEAD_WATCHERS} watchers ${b.putPerS} put/s (${b.loggedPerS} logged/s, ${b.failedPuts} failed; p50/p99 ${b.putP50Ms}/${b.putP99Ms} ms; server ${threadText(b.server)}; ` +
        `watchers ${threadText(b.watchersThreads)}; ${b.bytesPerPut} B/put per watcher, ` +
        `${b.readsPerS} reads/s per watcher, ${b.stream}); put/s with ${OVERHEAD_WATCHERS} watchers ÷ none ${(b.putPerS / a.putPerS).toFixed(3)}${plainText}\n`,
    );
  }

  figures(): Record<string, unknown> {
    const { none, with100 } = this;
    const latencies = with100.flatMap((r) => r.latencyMs);
    const plain = this.plain;
    return {
      ...(plain.length === 0
        ? {}
        : {
            putPerSPlain: plain.map((r) => r.putPerS),
            noneOverPlainMedian: Number(median(plain.map((r, i) => none[i]!.putPerS / r.putPerS)).toFixed(3)),
            serverThreadsUsPerPutPlain: medianSplit(plain.map((r) => r.server)),
          }),
      putPerSNone: none.map((r) => r.putPerS),
      putLatencyMsNone: {
        p50: median(none.map((r) => r.putP50Ms)),
        p99: median(none.map((r) => r.putP99Ms)),
      },
      putLatencyMsWith100: {
        p50: median(with100.map((r) => r.putP50Ms)),
        p99: median(with100.map((r) => r.putP99Ms)),
      },
      putPerSWith100: with100.map((r) => r.putPerS),
      ratios: none.map((r, i) => Number((with100[i]!.putPerS / r.putPerS).toFixed(3))),
      ratioMedian: Number(median(none.map((r, i) => with100[i]!.putPerS / r.putPerS)).toFixed(3)),
      serverUsPerPutNone: median(none.map((r) => r.serverUsPerPut)),
      serverUsPerPutWith100: median(with100.map((r) => r.serverUsPerPut)),
      serverThreadsUsPerPutNone: medianSplit(none.map((r) => r.server)),
      serverThreadsUsPerPutWith100: medianSplit(with100.map((r) => r.server)),
      watchersProcessUsPerPutWith100: median(with100.map((r) => r.watcherUsPerPut)),
      watchersThreadsUsPerPutWith100: medianSplit(with100.map((r) => r.watchersThreads)),
      bytesPerPutPerWatcher: median(with100.map((r) => r.bytesPerPut)),
      readsPerSPerWatcherWith100: median(with100.map((r) => r.readsPerS)),
      stream: with100[0]?.stream ?? '',
      latency: {
        samples: latencies.length,
        p50Ms: Number(pct(latencies, 50).toFixed(2)),
        p99Ms: Number(pct(latencies, 99).toFixed(2)),
      },
    };
  }
}

async function main(): Promise<void> {
  if (PORT !== 0 && BASELINE !== '') usageError('--port and --baseline do not go together');
  const root = mkdtempSync(join(tmpdir(), 'distkv-watch-bench-'));
  const servers: Server[] = [];
  const results: Record<string, unknown> = {
    node: process.version,
    cpus: availableParallelism(),
    loadavg: loadavg().map((l) => Number(l.toFixed(1))),
    seconds: SECONDS,
    rounds: ROUNDS,
    watchFormat: WATCH_FORMAT,
    values: VALUES,
    watchersPriority: WATCHERS_PRIORITY,
  };
  try {
    const server = PORT === 0 ? await startServer(join(root, 'this'), 'bin/distkv.js') : attach(PORT);
    servers.push(server);
    const baseline =
      BASELINE === ''
        ? undefined
        : await startServer(join(root, 'baseline'), join(BASELINE, 'bin/distkv.js'));
    if (baseline !== undefined) servers.push(baseline);

    for (const s of servers) s.bench.warm(WARMUP_S);
    const fanout: Record<string, unknown> = {};
    for (const n of FANOUT) {
      const r = await server.bench.round(n, false);
      fanout[String(n)] = { ...r, latencyMs: undefined };
      process.stderr.write(`fanout ${n}: ${JSON.stringify(fanout[String(n)])}\n`);
    }
    results.fanout = fanout;

    const mine = new Overhead();
    const theirs = new Overhead();
    for (let round = 0; round < ROUNDS; round++) {
      // Each round runs both servers, in alternating order: neither always gets the quieter half.
      const order = [
        () => mine.round('this', server.bench, round),
        ...(baseline === undefined ? [] : [() => theirs.round('baseline', baseline.bench, round)]),
      ];
      if (round % 2 === 1) order.reverse();
      for (const run of order) await run();
    }
    results.overhead = mine.figures();
    if (baseline !== undefined) results.baseline = { dir: BASELINE, overhead: theirs.figures() };
  } finally {
    for (const s of servers) await s.stop();
    rmSync(root, { recursive: true, force: true });
  }
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}

/**
 * child: the watchers side of a round. It opens the watchers and says so; on `go` the probe
 * writes (one PUT at a time, every 5 ms) until `stop`; on `{expect}` it waits until every watcher
 * counted that many events (bounded) and reports.
 */
async function child(port: number, n: number, probe: boolean): Promise<void> {
  const w = await Watchers.open(port, n, probe);
  const acked = new Map<number, number>();
  const latencyMs: number[] = [];
  w.onProbe = (i, at) => {
    const t = acked.get(i);
    if (t !== undefined) latencyMs.push(at - t);
    else acked.set(i, -at);
  };
  const cpu0 = process.cpuUsage();
  let stop = false;
  const stopped = (): boolean => stop;
  let expect = -1;
  process.on('message', (m: unknown) => {
    if (m === 'stop') stop = true;
    else if (typeof m === 'object' && m !== null) expect = (m as { expect: number }).expect;
  });
  process.send!('ready');
  await new Promise<void>((resolve) =>
    process.once('message', () => {
      resolve();
    }),
  );
  const deadline = Date.now() + (SECONDS + 60) * 1000;
  const writer = await ProbeWriter.open(port);
  for (let i = 0; !stopped() && Date.now() < deadline; i++) {
    await sleep(5);
    await writer.put(`keylat/${String(i)}`, 'x');
    const now = performance.now();
    const seen = acked.get(i);
    // The event may arrive before the 204: then its arrival time was stored (negated) first.
    if (seen !== undefined && seen < 0) latencyMs.push(-seen - now);
    else acked.set(i, now);
  }
  writer.close();
  process.send!('stopped');
  const until = Date.now() + DELIVERY_TIMEOUT_MS;
  while ((expect < 0 || Math.min(...w.counts()) < expect) && Date.now() < until) await sleep(5);
  const doneAt = Date.now();
  const cpu = process.cpuUsage(cpu0);
  const counts = w.counts();
  process.send!({
    min: counts.length === 0 ? expect : Math.min(...counts),
    max: counts.length === 0 ? expect : Math.max(...counts),
    doneAt,
    latencyMs,
    cpuS: (cpu.user + cpu.system) / 1e6,
    reads: w.reads,
    bytes: w.bytes,
    disorder: w.disorder(),
    mode: w.mode(),
  } satisfies ChildReport);
  w.close();
}

if (process.argv[2] === '--child')
  void child(Number(process.argv[3]), Number(process.argv[4]), process.argv[5] === '1');
else
  main().catch((err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  });
