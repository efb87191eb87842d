/**
 * The live progress line of `distkv bench` (and, as plain text, of backup, restore and load). The load generator reports progress every 50 ms; on a
 * terminal the line is redrawn in place (carriage return, erase to end of line) at most every
 * REDRAW_MS, otherwise a plain line is printed every LOG_MS so logs stay short.
 *
 * The throttle compares with the time of the last *draw*: the first version stored the time of
 * every report instead, and since reports come every 50 ms (< REDRAW_MS) it never drew again
 * after the first line.
 *
 * A line drawn on a terminal has no newline until it is cleared: Ctrl-C (or SIGTERM) then left it
 * open, and the shell's prompt landed on it (a restore interrupted while it waited for a leader).
 * While it is drawn, the line of `stderrProgress` ends itself first on those signals (a newline,
 * the line left in view); then the command's own handler runs (interrupt.ts), or, when it has
 * none, the process exits with the shell's code for the signal (130, 143), as Node's default would
 * have ended it.
 */
import type { Progress } from '../loadgen/loadgen.js';
import { plural } from '../util/plural.js';
import { EXIT_SIGNALED } from './interrupt.js';

/** REDRAW_MS is the shortest time between two redraws on a terminal. */
export const REDRAW_MS = 250;
/** LOG_MS is the time between two progress lines when stderr is not a terminal. */
export const LOG_MS = 5000;
const BAR_WIDTH = 24;
/** ERASE_LINE moves to the start of the line and clears it (ANSI CSI K). */
const ERASE_LINE = '\r\x1b[K';

/** formatProgress renders one progress report without line control characters. */
export function formatProgress(p: Progress): string {
  const frac = p.totalS > 0 ? Math.min(1, p.elapsedS / p.totalS) : 0;
  const bar =
    p.phase === 'preload' ? '' : `[${'#'.repeat(Math.round(frac * BAR_WIDTH)).padEnd(BAR_WIDTH, '.')}] `;
  return `${bar}${p.phase.padEnd(7)} ${p.elapsedS.toFixed(1)}s  ${Math.round(p.rate)} ops/s  ${p.done} done  ${plural(p.errors, 'error')}`;
}

/**
 * newWait reports whether a wait's progress line (`now`; undefined: none) is drawn at once: when it
 * says something other than the line last drawn for a wait (`shown`). A wait that goes on is drawn
 * as progress is, at most every LOG_MS to a log: each retry of a wait for a shard's leader
 * (FAILOVER_RETRY_MS and a reload, leader-wait.ts) used to draw its line at once in a restore, a
 * line or two a second in a log for up to 30 s; and a backup drew its wait only as progress, so a
 * log showed nothing of it for LOG_MS (its leader stopping, its copy waiting for the next one).
 */
export function newWait(shown: string | undefined, now: string | undefined): boolean {
  return now !== undefined && now !== shown;
}

/** ProgressLine draws progress reports to a terminal or a log. */
export class ProgressLine {
  private lastDraw = Number.NEGATIVE_INFINITY;
  private drawn = false;

  private readonly write: (text: string) => void;
  private readonly tty: boolean;
  private readonly now: () => number;
  /** signals: the line ends itself on SIGINT and SIGTERM while drawn (see the design block). */
  private readonly signals: boolean;

  constructor(
    write: (text: string) => void,
    tty: boolean,
    now: () => number = () => performance.now(),
    signals = false,
  ) {
    this.write = write;
    this.tty = tty;
    this.now = now;
    this.signals = signals;
  }

  /** update shows `p` if enough time passed since the last draw. */
  update(p: Progress): void {
    this.show(() => formatProgress(p));
  }

  /**
   * show draws the text `line` gives if enough time passed since the last draw (else it is not
   * called), or at once with `now` (the start of a long step that reports nothing until its end).
   */
  show(line: () => string, now = false): void {
    const t = this.now();
    if (!now && t - this.lastDraw < (this.tty ? REDRAW_MS : LOG_MS)) return;
    this.lastDraw = t;
    if (this.tty && !this.drawn && this.signals) {
      // First: the command's own handler may exit.
      process.prependListener('SIGINT', this.onSignal);
      process.prependListener('SIGTERM', this.onSignal);
    }
    this.drawn = true;
    this.write(this.tty ? `${ERASE_LINE}${line()}` : `${line()}\n`);
  }

  /** startQuiet makes the first line wait one interval, as if one had just been drawn. */
  startQuiet(): void {
    this.lastDraw = this.now();
  }

  /** clear erases the line on a terminal (before the result is printed). */
  clear(): void {
    if (this.tty && this.drawn) this.write(ERASE_LINE);
    this.undrawn();
  }

  /** end ends the line on a terminal with a newline, leaving it in view (the process is interrupted). */
  end(): void {
    if (this.tty && this.drawn) this.write('\n');
    this.undrawn();
  }

  private undrawn(): void {
    this.drawn = false;
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }

  /** onSignal ends the drawn line, then exits as Node's default would have unless another handler is there. */
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    this.end();
    if (process.listenerCount(signal) === 0)
      process.exit(signal === 'SIGTERM' ? EXIT_SIGNALED.SIGTERM : EXIT_SIGNALED.SIGINT);
  };
}

/**
 * stderrProgress is a ProgressLine on standard error (redrawn on a terminal, and ended by SIGINT
 * and SIGTERM there, a line every LOG_MS otherwise). With `quietStart`, a log (not a terminal) gets its first line only after LOG_MS, so
 * short jobs (backup, restore, load of a few keys) print nothing there.
 */
export function stderrProgress(quietStart = false): ProgressLine {
  const line = new ProgressLine(
    (text) => void process.stderr.write(text),
    process.stderr.isTTY,
    () => performance.now(),
    true,
  );
  if (quietStart && !process.stderr.isTTY) line.startQuiet();
  return line;
}
