/**
 * Pausing a process with SIGSTOP (a node that stops answering without closing its connections) and
 * knowing that it is paused.
 *
 * `kill(pid, SIGSTOP)` returns once the signal is queued, not once the process has stopped: Linux
 * stops a multi-threaded process when one of its threads takes the signal (the thread it woke,
 * which on a loaded machine may wait for a CPU), and the other threads run on meanwhile. Measured
 * on 2 loaded cores, a worker thread of a node process went on working up to 66 ms after the kill
 * returned; a replica's worker so pulled a write its leader took after the "pause" and acknowledged
 * it (test/e2e/resp-wait-pipelined.test.ts). `pauseProcess` returns once every thread is stopped
 * (state T in `/proc/PID/task/TID/stat`, read by sched-stat.ts).
 */
import type { ChildProcess } from 'node:child_process';
import { schedStat } from './sched-stat.js';

/**
 * pauseProcess sends SIGSTOP to `child` and resolves once all its threads are stopped; it throws
 * after `timeoutMs` otherwise. Where /proc cannot be read (not Linux, or the process is gone) it
 * cannot tell, and resolves once the signal is sent.
 */
export async function pauseProcess(child: ChildProcess, timeoutMs = 10000): Promise<void> {
  child.kill('SIGSTOP');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { states } = schedStat(child.pid);
    // states counts the threads by state, e.g. "T11" once stopped, "S9 R1 T1" while some still run.
    if (states === 'unknown' || states.split(' ').every((s) => s.startsWith('T') || s.startsWith('t')))
      return;
    if (Date.now() > deadline)
      throw new Error(`process ${child.pid} not stopped ${timeoutMs} ms after SIGSTOP: threads ${states}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}
