/**
 * CPU time per thread of a process, from Linux's /proc/PID/task/TID/stat (utime + stime, in clock
 * ticks of 10 ms), for benches that say where a process's CPU goes (bench/watch-bench.ts):
 *   main     the thread whose id is the process id (Node's main thread: a distkv server's front
 *            door, the watch fan-out; a bench child's event loop)
 *   workers  the `workers` busiest other threads of the first measured interval, kept for every
 *            later one: Node names every thread `node`, so a distkv server's shard workers are
 *            told apart by what they do (under a write load they run the stores and the commit
 *            log, far above V8's and libuv's helper threads)
 *   other    every other thread (V8's GC and compiler threads, libuv's pool, piscina's threads)
 *   mainSystem  the part of `main` spent in the kernel (stime: a server's socket writes and
 *            reads, and on loopback the receive path each write runs for its reader)
 * Threads that ended between two samples are missed (their time leaves with them), so a
 * measured interval should not span a process's startup. Off Linux every figure is NaN.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** TICK_S is a clock tick in seconds (USER_HZ is 100 on Linux's usual builds). */
const TICK_S = 0.01;

/** ThreadSplit is the CPU seconds of an interval, by kind of thread. */
export interface ThreadSplit {
  main: number;
  /** mainSystem is the part of `main` spent in the kernel. */
  mainSystem: number;
  workers: number;
  other: number;
  total: number;
}

/** threadCpuSeconds reads the CPU seconds (user + system) of thread `tid` of `pid`; throws when it is gone. */
export function threadCpuSeconds(pid: number, tid: number): number {
  const t = threadCpuTimes(pid, tid);
  return t.user + t.system;
}

/** threadCpuTimes reads the user and system CPU seconds of thread `tid` of `pid`; throws when it is gone. */
export function threadCpuTimes(pid: number, tid: number): { user: number; system: number } {
  // the fields after the command's closing parenthesis: state is field 3, utime 14, stime 15
  const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) * TICK_S, system: Number(fields[12]) * TICK_S };
}

/** mainSystemSeconds reads the system CPU seconds of `pid`'s main thread (NaN when it is gone). */
function mainSystemSeconds(pid: number): number {
  try {
    return threadCpuTimes(pid, pid).system;
  } catch {
    return NaN;
  }
}

/** threadTimes reads the CPU seconds of every live thread of `pid`, by thread id (empty when unreadable). */
export function threadTimes(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      out.set(Number(tid), threadCpuSeconds(pid, Number(tid)));
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/** ThreadStats measures one process's CPU by kind of thread over intervals (see the design block). */
export class ThreadStats {
  private readonly pid: number;
  private readonly workerCount: number;
  private workerIds: Set<number> | undefined;
  private start = new Map<number, number>();
  private startMainSystem = 0;

  /** `workers` is how many of the busiest non-main threads count as workers (0: none). */
  constructor(pid: number, workers: number) {
    this.pid = pid;
    this.workerCount = workers;
  }

  /** begin starts an interval. */
  begin(): void {
    this.start = threadTimes(this.pid);
    this.startMainSystem = mainSystemSeconds(this.pid);
  }

  /** end returns the CPU of the interval since `begin`, split by kind of thread. */
  end(): ThreadSplit {
    const now = threadTimes(this.pid);
    const mainSystem = mainSystemSeconds(this.pid) - this.startMainSystem;
    if (now.size === 0) return { main: NaN, mainSystem: NaN, workers: NaN, other: NaN, total: NaN };
    const used = new Map<number, number>();
    for (const [tid, s] of now) used.set(tid, s - (this.start.get(tid) ?? 0));
    if (this.workerIds === undefined)
      this.workerIds = new Set(
        [...used]
          .filter(([tid]) => tid !== this.pid)
          .sort((a, b) => b[1] - a[1])
          .slice(0, this.workerCount)
          .map(([tid]) => tid),
      );
    const split: ThreadSplit = { main: 0, mainSystem, workers: 0, other: 0, total: 0 };
    for (const [tid, s] of used) {
      if (tid === this.pid) split.main += s;
      else if (this.workerIds.has(tid)) split.workers += s;
      else split.other += s;
      split.total += s;
    }
    return split;
  }
}

/**
 * pidListeningOn finds the process that listens on TCP `port` (IPv4 or IPv6) from /proc/net/tcp*
 * and the processes' socket descriptors; undefined when none is found (or it is not readable).
 */
export function pidListeningOn(port: number): number | undefined {
  const inodes = new Set<string>();
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is field 1 (ADDR:PORT in hex), st field 3 (0A: listen), inode field 9
      if (f[1]?.endsWith(`:${hexPort}`) === true && f[3] === '0A' && f[9] !== undefined) inodes.add(f[9]);
    }
  }
  if (inodes.size === 0) return undefined;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m !== null && inodes.has(m[1]!)) return Number(pid);
      } catch {
        // the descriptor closed meanwhile
      }
    }
  }
  return undefined;
}
