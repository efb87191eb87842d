/**
 * lmdb-js reports some failures by writing them to `console.error` itself, not through a promise:
 * a commit its writer thread could not write (lmdb/write.js, `startWriting`: `console.error(error)`,
 * an Error whose `code` is the system's errno, e.g. 5, "Input/output error", on a full disk). On a
 * shard worker that console is the process's stderr: a multi-line stack trace per failed commit,
 * outside the JSON log, saying nothing of what to do. The writes of that commit report the failure
 * too (they reject: quietCommitFailure in lmdb-env.ts), so the line carries no news for the store.
 *
 * routeLmdbConsoleErrors sends such errors to the thread's log as one line with what to do, at
 * most one a minute per cause (then with `more`, the count since: src/util/log-throttle.ts);
 * anything else written to `console.error` goes on as before. It is installed once per thread (the
 * shard worker's, as its stores are created: src/worker/worker-stores.ts).
 */
import type { Logger } from 'pino';
import { LogThrottle } from '../util/log-throttle.js';

/** ROUTED marks a thread's console whose errors are routed already. */
const ROUTED = Symbol.for('distkv.lmdb-console-routed');

/** fromLmdb tells whether `err` was made by lmdb-js (its stack runs through its package). */
function fromLmdb(err: Error): boolean {
  return /[/\\]lmdb[/\\][^/\\]+\.[cm]?js/.test(err.stack ?? '');
}

/** routeLmdbConsoleErrors sends lmdb-js's own `console.error` reports of this thread to `log` (see above). */
export function routeLmdbConsoleErrors(log: Logger): void {
  const c = console as Console & { [ROUTED]?: true };
  if (c[ROUTED] === true) return;
  c[ROUTED] = true;
  const original = console.error.bind(console);
  // Compaction retries a failed commit with backoff: one line a minute per cause, as its own log.
  const lines = new LogThrottle<Error>((err, more) => {
    const code = (err as Error & { code?: unknown }).code;
    log.error(
      {
        err: err.message,
        ...(typeof code === 'number' ? { errno: code } : {}),
        ...(more > 0 ? { more } : {}),
      },
      `LMDB could not write a commit (${err.message}): the disk is full or failing. Compaction retries it (writes may get 507 DISK_FULL meanwhile); free space on the file system, or check dmesg for I/O errors. Nothing acknowledged is lost: the runs and the commit log keep what LMDB did not take`,
    );
  });
  console.error = (...args: unknown[]): void => {
    const err = args[0];
    if (args.length !== 1 || !(err instanceof Error) || !fromLmdb(err)) {
      original(...args);
      return;
    }
    lines.note(err.message, err);
  };
}
