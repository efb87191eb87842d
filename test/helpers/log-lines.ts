/**
 * A pino logger whose lines a test reads back (parsed), and a bounded poll for a condition on them:
 * what the etcd outage tests (test/integration/etcd-outage-log, etcd-stop-while-failing) read of a
 * coordinator's log.
 */
import pino from 'pino';

/** LogLine is what a test reads of a pino line. */
export interface LogLine {
  level: number;
  msg: string;
  time: number;
}

/** logLines is a logger at info and above and the lines it has written, parsed, in order. */
export function logLines(): { log: pino.Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l) as LogLine) });
  return { log, lines };
}

/** pollUntil polls `f` every 50 ms until it holds (true) or `ms` passed (false). */
export async function pollUntil(f: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!f()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}
