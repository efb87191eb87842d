/**
 * The servers the RESP benchmarks start (bench/resp-bench.ts, bench/resp-pipeline.ts): distkv in the default
 * layout, redis-server and the node:net + Map baseline, each started afresh in its own dir per
 * round, and what the benchmarks read of a running server: CPU time from /proc (the process, its
 * main thread, each thread) and the commit log's fdatasyncs from distkv's /metrics.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { type Child, defaultLayoutConfig, freePort, ROOT, startProcess, stopChild } from './processes.js';
import { respPing, startRedis } from './redis.js';

/** RESP_OFFSET is `server.resp_port_offset`'s default: a node's RESP port is its HTTP port + 1000. */
export const RESP_OFFSET = 1000;

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => {
      resolve(false);
    });
    srv.listen(port, '127.0.0.1', () => {
      srv.close(() => {
        resolve(true);
      });
    });
  });
}

/** nodePort returns a free port whose RESP twin (port + RESP_OFFSET) is free too. */
export async function nodePort(): Promise<number> {
  for (;;) {
    const p = await freePort();
    if (p + RESP_OFFSET <= 65535 && (await isFree(p + RESP_OFFSET))) return p;
  }
}

/**
 * startRespBaseline starts the node:net + Map RESP baseline (bench/baseline/resp-server.ts), its SETs
 * logged and fdatasynced per turn in `logDir`, and waits for PING.
 */
async function startRespBaseline(port: number, logDir: string): Promise<Child> {
  const t0 = performance.now();
  const args = ['dist/bench/baseline/resp-server.js', '--port', String(port), '--log', logDir, '--sync'];
  const proc = spawn(process.execPath, args, {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 10000;
  while (!(await respPing(port))) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error('the RESP baseline did not answer PING within 10 s');
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { proc, startupMs: performance.now() - t0, stop: () => stopChild(proc) };
}

const TICKS_PER_S =
  Number(((spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout as string | null) ?? '').trim()) ||
  100;

/** secondsOf returns user + system CPU seconds from the text of a /proc stat file. */
function secondsOf(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
}

/**
 * cpuSeconds is the user + system CPU time a process has used so far, from /proc: all its threads,
 * or with `mainThread` only its main thread (the thread whose id is the process id: distkv's front
 * doors, HTTP and RESP).
 */
export function cpuSeconds(pid: number, mainThread = false): number {
  return secondsOf(readFileSync(mainThread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8'));
}

/** threadSeconds returns the CPU seconds of each thread of process `pid` so far, by thread id. */
export function threadSeconds(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      out.set(Number(tid), secondsOf(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')));
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/** LogSyncs are a distkv process's commit log fdatasyncs so far: how many, and their seconds in all. */
export interface LogSyncs {
  count: number;
  seconds: number;
}

/**
 * logSyncs reads the commit log's fdatasyncs from the distkv process at HTTP port `http`: each
 * store reports its worker's one log (`distkv_store_wal_syncs_total`, and the histogram's
 * `_sum`), so the largest over the stores is one worker's figure: the whole process's with the
 * default single worker on 2 CPUs.
 */
export async function logSyncs(http: number): Promise<LogSyncs> {
  const url = `http://127.0.0.1:${http}/metrics`;
  // A keep-alive connection idle through a long run was closed by the server's idle sweep: retry once.
  const text = await fetch(url)
    .catch(() => fetch(url))
    .then((r) => r.text());
  const most = (name: string): number => {
    let m = 0;
    for (const x of text.matchAll(new RegExp(`^${name}\\{[^}]*\\} ([\\d.e+-]+)$`, 'gm')))
      m = Math.max(m, Number(x[1]));
    return m;
  };
  return {
    count: most('distkv_store_wal_syncs_total'),
    seconds: most('distkv_store_wal_sync_duration_seconds_sum'),
  };
}

/** Started is a running target: its process, its RESP port and (distkv) its HTTP port, else 0. */
export interface Started {
  child: Child;
  port: number;
  http: number;
}

/** Target is a server a benchmark starts afresh for each round. */
export interface Target {
  name: string;
  start(): Promise<Started>;
}

/**
 * distkvTarget is a distkv build (`root` holds its bin/ and dist/) in the default layout (4 shards,
 * leaders and replicas in one process), started in a fresh dir under `dir` each time, with
 * `extraConfig` (TOML) appended to its config and `serveArgs` given to `distkv serve`.
 */
export function distkvTarget(
  name: string,
  root: string,
  dir: string,
  serveArgs: string[] = [],
  extraConfig = '',
): Target {
  let starts = 0;
  return {
    name,
    start: async () => {
      const [lp, rp] = [await nodePort(), await nodePort()];
      const own = join(dir, `${name.replace(/\W+/g, '-')}-${starts++}`);
      mkdirSync(own);
      const cfg = defaultLayoutConfig(own, lp, rp, extraConfig);
      const data = join(own, 'data');
      const child = await startProcess(
        [join(root, 'bin/distkv.js'), 'serve', '--config', cfg, '--data-dir', data, ...serveArgs],
        `http://127.0.0.1:${lp}/healthz`,
      );
      return { child: removingDir(child, own), port: lp + RESP_OFFSET, http: lp };
    },
  };
}

/** removingDir returns `child` whose stop also deletes `dir`. */
function removingDir(child: Child, dir: string): Child {
  return {
    ...child,
    stop: async () => {
      await child.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** ownDirTarget is a server started by `start(port, dir)` on a free port, in a fresh dir under `dir` each time. */
function ownDirTarget(
  name: string,
  dir: string,
  start: (port: number, dir: string) => Promise<Child>,
): Target {
  let starts = 0;
  return {
    name,
    start: async () => {
      const port = await freePort();
      const own = join(dir, `${name.replace(/\W+/g, '-')}-${starts++}`);
      mkdirSync(own);
      return { child: removingDir(await start(port, own), own), port, http: 0 };
    },
  };
}

/** redisTarget is redis-server with AOF and `appendfsync always`. */
export function redisTarget(dir: string): Target {
  return ownDirTarget('redis-server (appendfsync always)', dir, (port, d) => startRedis(port, 'always', d));
}

/** baselineTarget is the node:net + Map RESP server, its SETs fdatasynced per turn. */
export function baselineTarget(dir: string): Target {
  return ownDirTarget('node:net + Map baseline', dir, startRespBaseline);
}
