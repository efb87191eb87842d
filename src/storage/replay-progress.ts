/**
 * ReplayProgress: the progress of a worker's commit log replay while recovery reads it
 * (lsm-recovery.ts), as log lines and as reports for the main thread. After kill -9 with a large
 * unflushed log the read takes seconds, and the node said nothing between "listening" and
 * "serving": it looked hung. Now a line comes every REPLAY_PROGRESS_MS (`replaying the commit log
 * w0: 41.0 of 120.5 MiB (34%), 180000 records, about 6 s left`), and one when it is done, if any
 * came before; and a report (`ReplayReport`) goes to `report` at the first frame, every
 * REPLAY_REPORT_MS and at the end, which the main thread answers in /cluster and RESP INFO while
 * the node starts (src/server/worker-pool.ts `loading`).
 *
 * The time left is only given from a measured rate: the bytes read over the time taken, once the
 * replay has run for ETA_AFTER_MS (before that, a rate would be a guess: the first frames include
 * the open of the first segment), in whole seconds rounded up; none when nothing is left to read.
 *
 * The throttle is the progress line's of the CLI (src/cli/progress-line.ts: backup, restore): a
 * line only once the interval has passed since the last one, the first only after one interval,
 * so a short replay prints nothing. It is not imported from there: storage does not depend on
 * the CLI, and a server writes log records (pino), not redrawn terminal lines.
 *
 * The log is read synchronously, segment by segment, so no timer could fire meanwhile: the reader
 * calls `frame` after each frame, which costs a clock read and two comparisons. A report is
 * posted from there (postMessage delivers while this thread is still busy). Used on one worker thread.
 */
import type { Logger } from 'pino';
import { mib } from '../util/mib.js';

/** REPLAY_PROGRESS_MS is the time between two progress lines of a commit log's replay. */
export const REPLAY_PROGRESS_MS = 2000;
/** REPLAY_REPORT_MS is the time between two reports of a replay's progress to the main thread. */
export const REPLAY_REPORT_MS = 250;
/** ETA_AFTER_MS is how long a replay runs before its rate gives the time left. */
export const ETA_AFTER_MS = 1000;

/** ReplayReport is a worker's commit log replay progress, as it reports it to the main thread. */
export interface ReplayReport {
  /** bytes of the log read so far, of `totalBytes` (the segments' sizes). */
  bytes: number;
  totalBytes: number;
  /** elapsedMs since the replay began. */
  elapsedMs: number;
  /** etaSeconds is the time left at the measured rate (etaSeconds()); absent without one. */
  etaSeconds?: number;
  /** done: the log is read (the stores then attach to it and open). */
  done: boolean;
}

/**
 * etaSeconds is the time left to read `total - bytes` at the rate of `bytes` read in `elapsedMs`,
 * in whole seconds rounded up; undefined before ETA_AFTER_MS, with nothing read, or nothing left.
 */
export function etaSeconds(bytes: number, total: number, elapsedMs: number): number | undefined {
  if (elapsedMs < ETA_AFTER_MS || bytes <= 0 || bytes >= total) return undefined;
  return Math.ceil(((total - bytes) * elapsedMs) / bytes / 1000);
}

/** ReplayProgress counts a commit log's replay, logs its progress lines and reports it. */
export class ReplayProgress {
  /** records counts the records read so far (every store's). */
  records = 0;
  private readonly log: Logger | undefined;
  private readonly dir: string;
  private readonly everyMs: number;
  private readonly now: () => number;
  private readonly report: ((r: ReplayReport) => void) | undefined;
  private readonly t0: number;
  private last: number;
  /** reportAt is when the next report is due (the first frame's at once). */
  private reportAt: number;
  private shown = false;
  private bytes = 0;
  private total = 0;

  constructor(
    log: Logger | undefined,
    dir: string,
    everyMs = REPLAY_PROGRESS_MS,
    now: () => number = () => performance.now(),
    report?: (r: ReplayReport) => void,
  ) {
    this.log = log;
    this.dir = dir;
    this.everyMs = everyMs;
    this.now = now;
    this.report = report;
    this.t0 = now();
    this.last = this.t0;
    this.reportAt = this.t0;
  }

  /** frame notes that `bytes` of the log's `total` have been read; logs a line and reports when due. */
  frame(bytes: number, total: number): void {
    this.bytes = bytes;
    this.total = total;
    if (this.log === undefined && this.report === undefined) return;
    const t = this.now();
    if (t >= this.reportAt && this.report !== undefined) {
      this.reportAt = t + REPLAY_REPORT_MS;
      this.report(this.reportOf(t, false));
    }
    if (this.log === undefined || t - this.last < this.everyMs) return;
    this.last = t;
    this.shown = true;
    const pct = total > 0 ? Math.floor((100 * bytes) / total) : 100;
    const eta = etaSeconds(bytes, total, t - this.t0);
    this.log.info(
      {
        dir: this.dir,
        bytes,
        total_bytes: total,
        records: this.records,
        ...(eta === undefined ? {} : { eta_seconds: eta }),
      },
      `replaying the commit log ${this.dir}: ${mib(bytes)} of ${mib(total)} MiB (${pct}%), ${this.records} records` +
        (eta === undefined ? '' : `, about ${eta} s left`),
    );
  }

  /** done reports the end of the replay, and logs it when it logged progress lines. */
  done(): void {
    const t = this.now();
    this.report?.(this.reportOf(t, true));
    if (!this.shown || this.log === undefined) return;
    const s = ((t - this.t0) / 1000).toFixed(1);
    this.log.info(
      { dir: this.dir, bytes: this.bytes, records: this.records, seconds: Number(s) },
      `replayed the commit log ${this.dir}: ${mib(this.bytes)} MiB, ${this.records} records in ${s} s`,
    );
  }

  private reportOf(t: number, done: boolean): ReplayReport {
    const elapsedMs = Math.round(t - this.t0);
    // At the end every byte counted is read (an empty log has none: 0 of 0).
    const bytes = done ? this.total : this.bytes;
    const eta = done ? undefined : etaSeconds(bytes, this.total, elapsedMs);
    return {
      bytes,
      totalBytes: this.total,
      elapsedMs,
      ...(eta === undefined ? {} : { etaSeconds: eta }),
      done,
    };
  }
}
