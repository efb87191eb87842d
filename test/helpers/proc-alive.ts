/**
 * Whether a process still runs, read from /proc (Linux): for tests that check that what a run
 * started has stopped.
 */
import { readFileSync } from 'node:fs';

/** alive reports whether `pid` runs (a zombie, exited but not yet reaped, does not). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}
