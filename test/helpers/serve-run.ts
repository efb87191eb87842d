/**
 * One `distkv serve` run, stopped by a signal sent when its output shows a given point (for tests
 * of how it stops: exit code, log lines, what the next start finds).
 */
import { spawn } from 'node:child_process';
import { BIN, REPO_ROOT } from './server-process.js';

/** ServeRun is how a run ended and what it wrote (stdout and stderr together). */
export interface ServeRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

/**
 * serveUntil runs `distkv serve`, sends `signal` as soon as its output matches `when`, and
 * resolves with how it ended (killed after 30 s if it does not).
 */
export function serveUntil(args: string[], when: RegExp, signal: NodeJS.Signals): Promise<ServeRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'serve', ...args], { cwd: REPO_ROOT });
    let output = '';
    let sent = false;
    const onData = (d: string): void => {
      output += d;
      if (!sent && when.test(output)) {
        sent = true;
        child.kill(signal);
      }
    };
    child.stdout.setEncoding('utf8').on('data', onData);
    child.stderr.setEncoding('utf8').on('data', onData);
    const timer = setTimeout(() => child.kill('SIGKILL'), 30000);
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      resolve({ code, signal: sig, output });
    });
  });
}
