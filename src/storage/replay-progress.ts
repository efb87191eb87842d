/**
 * ReplayProgress: the progress lines a worker logs while recovery reads its commit log
 * (lsm-recovery.ts). After kill -9 with a large unflushed log the read takes seconds, and the node
 * said nothing between "listening" and "serving": it looked hung. Now a line comes every
 * REPLAY_PROGRESS_MS (`replaying the commit log w0: 41.0 of 120.5 MiB (34%), 180000 records`),
 * and one when it is done, if any came before.
 *
 * The throttle is the progress line's of the CLI (src/cli/progress-line.ts: backup, restore): a
 * line only once the interval has passed since the last one, the first only after one interval,
 * so a short replay prints nothing. It is not imported from there: storage does not depend on
 * the CLI, and a server writes log records (pino), not redrawn terminal lines.
 *
 * The log is read synchronously, segment by segment, so no timer could fire meanwhile: the reader
 * calls `frame` after each frame, which costs a clock read. Used on one worker thread.
 */
import type { Logger } from 'pino';
import { mib } from '../util/mib.js';

/** REPLAY_PROGRESS_MS is the time between two progress lines of a commit log's replay. */
export const REPLAY_PROGRESS_MS = 2000;

/** ReplayProgress counts a commit log's replay and logs its progress lines. */
export class ReplayProgress {
  /** records counts the records read so far (every store's). */
  records = 0;
  private readonly log: Logger | undefined;
  private readonly dir: string;
  private readonly everyMs: number;
  private readonly now: () => number;
  private readonly t0: number;
  private last: number;
  private shown = false;
  private bytes = 0;
  private total = 0;

  constructor(
    log: Logger | undefined,
    dir: string,
    everyMs = REPLAY_PROGRESS_MS,
    now: () => number = () => performance.now(),
  ) {
    this.log = log;
    this.dir = dir;
    this.everyMs = everyMs;
    this.now = now;
    this.t0 = now();
    this.last = this.t0;
  }

  /** frame notes that `bytes` of the log's `total` have been read; logs a line when one is due. */
  frame(bytes: number, total: number): void {
    this.bytes = bytes;
    this.total = total;
    if (this.log === undefined) return;
    const t = this.now();
    if (t - this.last < this.everyMs) return;
    this.last = t;
    this.shown = true;
    const pct = total > 0 ? Math.floor((100 * bytes) / total) : 100;
    this.log.info(
      { dir: this.dir, bytes, total_bytes: total, records: this.records },
      `replaying the commit log ${this.dir}: ${mib(bytes)} of ${mib(total)} MiB (${pct}%), ${this.records} records`,
    );
  }

  /** done logs the end of a replay that logged progress lines. */
  done(): void {
    if (!this.shown || this.log === undefined) return;
    const s = ((this.now() - this.t0) / 1000).toFixed(1);
    this.log.info(
      { dir: this.dir, bytes: this.bytes, records: this.records, seconds: Number(s) },
      `replayed the commit log ${this.dir}: ${mib(this.bytes)} MiB, ${this.records} records in ${s} s`,
    );
  }
}
