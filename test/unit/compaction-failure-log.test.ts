/**
 * What CompactionScheduler (src/storage/compaction-scheduler.ts) logs while its compactions into
 * LMDB keep failing, as on a full disk: lmdb-js rejects each write of a failed commit with "Commit
 * failed (see commitError for details)", the cause (an Error whose `code` is the errno) only in
 * the promise `commitError`. The first failure must name that cause (not lmdb-js's pointer to it,
 * as it did) without a stack; a lasting failure is recalled at most once per reminder interval
 * with its count (it said nothing more until it recovered); the recovery is one info line with the
 * count.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import pino from 'pino';
import { CompactionScheduler } from '../../src/storage/compaction-scheduler.js';

/** LogLine is what the test reads of a pino line. */
interface LogLine {
  level: number;
  msg: string;
  err?: unknown;
  failures?: number;
  /** time is pino's: Date.now() as the line was logged. */
  time: number;
  at: number;
}

/** lmdbCommitFailure is an error shaped as lmdb-js rejects a write of a commit that failed with errno 5. */
function lmdbCommitFailure(): Error {
  const cause = Object.assign(new Error('Input/output error'), { code: 5 });
  const commitError = Promise.reject(cause);
  commitError.catch(() => undefined);
  return Object.assign(new Error('Commit failed (see commitError for details)'), { commitError });
}

/** REMINDER_MS: the interval between two lines of a lasting failure, shortened for the test. */
const REMINDER_MS = 150;
/** REMINDERS: the compactions keep failing (retried every 5-20 ms) until this many reminders were logged. */
const REMINDERS = 2;
/** MIN_ATTEMPTS: and until this many attempts were made (each but the last fails). */
const MIN_ATTEMPTS = 20;

describe('compaction into LMDB failing while the disk is full', () => {
  it('logs the cause once without a stack, a reminder per interval with the count, one line on recovery', async () => {
    const lines: LogLine[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push({ ...(JSON.parse(chunk.toString()) as LogLine), at: performance.now() });
        done();
      },
    });
    // The failures end once the scheduler has logged REMINDERS reminders and made MIN_ATTEMPTS
    // attempts, not at a time: they ended FAILING_MS (700 ms) after the start, and a process starved
    // of CPU for part of it made fewer attempts, or logged fewer reminders, than the test asked for.
    const reminded = (): number => lines.filter((l) => l.msg.startsWith('compaction still failing')).length;
    let runs = 3;
    let attempts = 0;
    const scheduler = new CompactionScheduler({
      maxRuns: 2,
      idleMs: 60_000,
      retryMinMs: 5,
      retryMaxMs: 20,
      reminderMs: REMINDER_MS,
      dir: 'twin',
      log: pino({ level: 'info' }, sink),
      runs: () => ({ count: runs, entries: runs * 10 }),
      memtableEmpty: () => true,
      flushIdle: () => undefined,
      compact: () => {
        attempts++;
        if (reminded() < REMINDERS || attempts < MIN_ATTEMPTS) return Promise.reject(lmdbCommitFailure());
        runs = 0;
        return Promise.resolve();
      },
    });
    try {
      const deadline = performance.now() + 10_000;
      while (runs > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      scheduler.close();
    }
    const shown = lines.map((l) => `${l.level} ${l.msg}`).join('\n');
    assert.equal(runs, 0, `the compaction succeeded once the failures stopped:\n${shown}`);
    assert.ok(attempts >= MIN_ATTEMPTS, `retried with backoff: ${attempts} attempts`);
    const [first, ...rest] = lines;
    assert.ok(first !== undefined && first.level === 50, shown);
    assert.match(first.msg, /^compaction failed \(Input\/output error \(EIO, errno 5\)\)/, first.msg);
    assert.equal(first.err, 'Input/output error (EIO, errno 5)', 'the cause, not a stack');
    const reminders = rest.filter((l) => l.msg.startsWith('compaction still failing'));
    assert.ok(reminders.length >= REMINDERS, `reminders while it kept failing:\n${shown}`);
    const recovered = rest.filter((l) => l.level === 30);
    assert.equal(recovered.length, 1, shown);
    const failingMs = recovered[0]!.at - first.at;
    assert.ok(
      reminders.length <= Math.ceil(failingMs / REMINDER_MS),
      `one per interval at most (failing for ${Math.round(failingMs)} ms):\n${shown}`,
    );
    // Spaced by the time each line was logged (pino's), not by when the sink got it: under load
    // the first line's serialisation (its error) took long enough that the sink saw a reminder
    // 134 ms after it.
    let last = first.time;
    for (const r of reminders) {
      assert.ok(
        r.time - last >= REMINDER_MS - 5,
        `a reminder ${Math.round(r.time - last)} ms after the last line`,
      );
      assert.match(
        r.msg,
        /\(\d+ failures over [\d.]+ s; the last: Input\/output error \(EIO, errno 5\)\)$/,
        r.msg,
      );
      last = r.time;
    }
    assert.match(recovered[0]?.msg ?? '', /^compaction succeeded again, after \d+ failures over [\d.]+ s$/);
    assert.equal(recovered[0]?.failures, attempts - 1, 'the count of failed attempts');
    assert.equal(lines.length, 1 + reminders.length + 1, `nothing else:\n${shown}`);
  });
});
