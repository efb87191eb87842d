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
 * shard worker's, or the main thread's with `--inline`, as its stores are created:
 * src/worker/worker-stores.ts).
 *
 * The same failed commit also leaves a rejected promise of lmdb-js's own that nobody holds
 * (src/storage/lmdb-env.ts, `quietCommitFailure`): unhandled, it ended the thread, and with
 * `--inline` the process. quietLmdbOrphans, installed beside it, lets only that one pass.
 *
 * LMDB's C code prints a line of its own to stderr when a page write fails (mdb.c, before it
 * returns the errno: `fprintf(stderr, "Write error: %s position %u, size %u", ...)`) with no
 * newline, so the next line written to the same terminal or file (the log, when stdout and stderr
 * go to one place) was glued to it. lmdb-js has no option to silence it (the call is unconditional
 * in its copy of mdb.c). That write leaves its details in the error lmdb-js then reports ("No space
 * left on device: Attempting to write page at position ..."), and only that path does (a short
 * write is an EIO without them): for such an error a newline goes to stderr at once
 * (`endNativeLine`), so LMDB's line ends there and the next starts on its own line.
 */
import { writeSync } from 'node:fs';
import type { Logger } from 'pino';
import { LogThrottle } from '../util/log-throttle.js';
import { quietCommitFailure } from './lmdb-env.js';

/** ROUTED marks a thread's console whose errors are routed already. */
const ROUTED = Symbol.for('distkv.lmdb-console-routed');

/** QUIETED marks a thread whose lmdb-js orphan rejections are quieted already. */
const QUIETED = Symbol.for('distkv.lmdb-orphans-quieted');

/** NATIVE_LINE matches the detail LMDB adds to an error it printed a "Write error" line for (see above). */
const NATIVE_LINE = /: Attempting to write page at position /;

/**
 * causeOf is an lmdb-js error's message without the native detail (its page's position and sizes,
 * different for every failed write): the cause its lines are throttled by and name.
 */
function causeOf(err: Error): string {
  const at = err.message.search(NATIVE_LINE);
  return at < 0 ? err.message : err.message.slice(0, at);
}

/** endNativeLine ends LMDB's unterminated stderr line: one newline, written at once on fd 2. */
function endNativeLine(): void {
  try {
    writeSync(2, '\n');
  } catch {
    // stderr closed: nothing was shown either.
  }
}

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
    const cause = causeOf(err);
    log.error(
      {
        err: err.message,
        ...(typeof code === 'number' ? { errno: code } : {}),
        ...(more > 0 ? { more } : {}),
      },
      `LMDB could not write a commit (${cause}): the disk is full or failing. Compaction retries it (writes may get 507 DISK_FULL meanwhile); free space on the file system, or check dmesg for I/O errors. Nothing acknowledged is lost: the runs and the commit log keep what LMDB did not take`,
    );
  });
  console.error = (...args: unknown[]): void => {
    const err = args[0];
    if (args.length !== 1 || !(err instanceof Error) || !fromLmdb(err)) {
      original(...args);
      return;
    }
    if (NATIVE_LINE.test(err.message)) endNativeLine();
    lines.note(causeOf(err), err);
  };
}

/**
 * quietLmdbOrphans lets the rejections lmdb-js leaves unheld after a failed commit pass on this
 * thread (see above), at debug and without a stack: the writes that failed report it themselves
 * (a compaction's failure, with its cause, as it starts and then every 30 s:
 * compaction-scheduler.ts); at warn with its stack it was written on every retry of a compaction
 * while the disk was full. Any other unhandled rejection is thrown on, as it was: it ends the
 * thread (the process, on the main thread).
 */
export function quietLmdbOrphans(log: Logger): void {
  const p = process as NodeJS.Process & { [QUIETED]?: true };
  if (p[QUIETED] === true) return;
  p[QUIETED] = true;
  process.on('unhandledRejection', (reason) => {
    if (!quietCommitFailure(reason)) throw reason;
    log.debug({ err: (reason as Error).message }, 'an LMDB commit failed (its writes report it)');
  });
}
