/**
 * What a process's threads did with the scheduler, from Linux's `/proc/PID/task/TID/schedstat`
 * (time on a CPU, time runnable but waiting for one, in ns) and `/proc/PID/task/TID/stat` (state).
 * The e2e harness uses it to tell a start that waits (on a peer, a lock, a timer: sleeping) from
 * one that is starved of CPU by a loaded machine (runnable, not running), and to say which when a
 * start fails. Elsewhere than Linux every figure is 0 and the states are unknown.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** SchedStat sums a process's threads. */
export interface SchedStat {
  /** cpuMs is the CPU time of the threads alive now. */
  cpuMs: number;
  /** starvedMs is the longest run-queue wait of one thread: time it was runnable but had no CPU. */
  starvedMs: number;
  /** states counts the threads by state (R running, S sleeping, D disk, ...), e.g. "R1 S9". */
  states: string;
}

/** schedStat reads `pid`'s threads (zeros when /proc cannot be read: not Linux, or it exited). */
export function schedStat(pid: number | undefined): SchedStat {
  const none = { cpuMs: 0, starvedMs: 0, states: 'unknown' };
  if (pid === undefined) return none;
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return none;
  }
  let cpuNs = 0;
  let starvedNs = 0;
  const states = new Map<string, number>();
  for (const tid of tids) {
    try {
      const [cpu = 0, wait = 0] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8')
        .split(' ')
        .map(Number);
      cpuNs += cpu;
      starvedNs = Math.max(starvedNs, wait);
      // The state follows the command name, which is in parentheses and may hold spaces.
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      states.set(state, (states.get(state) ?? 0) + 1);
    } catch {
      // the thread ended meanwhile
    }
  }
  return {
    cpuMs: Math.round(cpuNs / 1e6),
    starvedMs: Math.round(starvedNs / 1e6),
    states: [...states].map(([s, n]) => `${s}${n}`).join(' '),
  };
}
