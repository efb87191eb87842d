/**
 * RepeatLog: how a job that retries a failing step on its own (an etcd lease keepalive every tick,
 * a compaction into LMDB with backoff) tells an operator about it: three kinds of line, never one
 * per attempt.
 *
 *  - `started`: the first failure of a run of failures, with its cause, written at once;
 *  - `changed`: a failure whose cause differs from every cause the run has written so far (etcd
 *    refusing connections, then refusing this node's credentials), written at once with the cause
 *    it follows. Causes are compared by `causeShape`, their numbers masked: a call's timings, an
 *    LMDB page number, an endpoint's port change on every call and are no new cause. A cause the
 *    run already wrote is not written again (two endpoints failing in turns would write a line per
 *    attempt), and a run writes at most MAX_CHANGES of them; the reminders name the latest cause;
 *  - `reminder`: while the run lasts, at most one line every `reminderMs` (30 s by default), with
 *    the number of failures so far and the latest cause; it is written by the first failure after
 *    the interval (no timer: a job that stopped retrying says nothing more);
 *  - `recovered`: the success that ends a run, with its number of failures and how long it lasted.
 *
 * A failure may bring no cause of its own (`failed(undefined)`: a call a circuit breaker held back
 * without sending it): it is counted and the run's latest cause is kept. A run that started with
 * no cause takes its first one without a `changed` line (the next reminder names it).
 *
 * The lines themselves are the owner's (`write` gets the event): it names the step, what the node
 * does meanwhile and the level. Owned by one job on one thread; the clock is a twin in tests.
 */
import { plural } from './plural.js';

/** REMINDER_MS is the default interval between two reminders of one run of failures. */
export const REMINDER_MS = 30_000;

/** MAX_CHANGES bounds the `changed` lines of one run (and the causes it remembers). */
export const MAX_CHANGES = 8;

/** NO_CAUSE stands for the cause of a run whose failures brought none yet. */
const NO_CAUSE = 'no cause reported';

/** causeShape is what two causes are compared by: the text with its numbers masked (see above). */
export function causeShape(cause: string): string {
  return cause.replace(/(?:0x[\da-f]+|\d+(?:\.\d+)*)/gi, '#');
}

/** RepeatEvent is one line to write: a run of failures started, changed cause, goes on, or ended. */
export type RepeatEvent =
  | { kind: 'started'; cause: string }
  | {
      kind: 'changed';
      /** cause is the new cause; `before` the one the run had until this failure. */
      cause: string;
      before: string;
      failures: number;
      sinceMs: number;
    }
  | {
      kind: 'reminder';
      /** cause is the latest failure's cause (or an earlier one: see `failed`). */
      cause: string;
      /** failures is the run's count so far, its first included. */
      failures: number;
      /** sinceMs is how long ago the run started. */
      sinceMs: number;
    }
  | { kind: 'recovered'; cause: string; failures: number; sinceMs: number };

/** RepeatLogOptions: the reminder interval and the clock (performance.now() by default). */
export interface RepeatLogOptions {
  reminderMs?: number;
  now?: () => number;
}

/** RepeatLog writes a retried step's failures through `write`: see the design block above. */
export class RepeatLog {
  private readonly write: (e: RepeatEvent) => void;
  private readonly reminderMs: number;
  private readonly now: () => number;
  /** failures counts the current run (0: the step works). */
  private failures = 0;
  private startedAt = 0;
  private lastLineAt = 0;
  private cause = '';
  /** written holds the shapes of the causes this run has written (causeShape). */
  private readonly written = new Set<string>();

  constructor(write: (e: RepeatEvent) => void, options: RepeatLogOptions = {}) {
    this.write = write;
    this.reminderMs = options.reminderMs ?? REMINDER_MS;
    this.now = options.now ?? (() => performance.now());
  }

  /** failing tells whether the last attempt failed. */
  get failing(): boolean {
    return this.failures > 0;
  }

  /** failed records a failed attempt: the run's first is written, later ones counted (see above). */
  failed(cause: string | undefined): void {
    const now = this.now();
    const before = this.cause;
    if (cause !== undefined || this.cause === '') this.cause = cause ?? NO_CAUSE;
    this.failures++;
    if (this.failures === 1) {
      this.startedAt = now;
      this.lastLineAt = now;
      this.written.clear();
      if (cause !== undefined) this.written.add(causeShape(cause));
      this.write({ kind: 'started', cause: this.cause });
      return;
    }
    if (cause !== undefined && this.newCause(cause, before)) {
      this.write({ kind: 'changed', cause, before, failures: this.failures, sinceMs: now - this.startedAt });
      return;
    }
    if (now - this.lastLineAt < this.reminderMs) return;
    this.lastLineAt = now;
    if (this.written.size <= MAX_CHANGES) this.written.add(causeShape(this.cause));
    this.write({
      kind: 'reminder',
      cause: this.cause,
      failures: this.failures,
      sinceMs: now - this.startedAt,
    });
  }

  /** newCause tells whether `cause` (following `before`) is one to write now, and notes it written. */
  private newCause(cause: string, before: string): boolean {
    const shape = causeShape(cause);
    if (this.written.has(shape)) return false;
    // A run started without a cause takes its first one quietly; a run past MAX_CHANGES leaves
    // new causes to its reminders.
    if (before === NO_CAUSE || this.written.size > MAX_CHANGES) return false;
    this.written.add(shape);
    return true;
  }

  /** succeeded records a successful attempt: the one that ends a run of failures is written. */
  succeeded(): void {
    if (this.failures === 0) return;
    const e: RepeatEvent = {
      kind: 'recovered',
      cause: this.cause,
      failures: this.failures,
      sinceMs: this.now() - this.startedAt,
    };
    this.failures = 0;
    this.cause = '';
    this.write(e);
  }
}

/** runSummary says how many failures a run has had and for how long ("3 failures over 12.5 s"). */
export function runSummary(failures: number, sinceMs: number): string {
  return `${plural(failures, 'failure')} over ${(sinceMs / 1000).toFixed(1)} s`;
}
