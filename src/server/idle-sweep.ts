/**
 * One timer per listener that finds its idle connections, instead of a `socket.setTimeout` per
 * connection.
 *
 * A socket's own timeout is a timer that node:net refreshes on every read and every write: a
 * timer-list update per request, on the main thread, for a limit that almost never fires. Here a
 * connection only marks itself touched when it reads or writes (a field store), and the sweep,
 * every `periodMs`, asks each connection to count the sweeps it slept through: a connection
 * untouched for `sweepsToIdle` sweeps in a row has been idle for at least the idle limit and at most
 * the limit plus one period (the limit split into periods of at most IDLE_SWEEP_MS, 2 s). So a limit of
 * 10 s closes an idle connection between 10 and 12 s after its last activity.
 *
 * The sweep's timer is unref'd: it never keeps the process alive. It stops at `stop()`.
 */

/** IDLE_SWEEP_MS is the longest period between two sweeps of a listener's connections. */
export const IDLE_SWEEP_MS = 2000;

/** SweepClose says why a sweep closed a connection: idle with nothing pending, or its answers stalled unsent. */
export type SweepClose = 'idle' | 'stalled';

/** Sweepable is a connection the sweep visits. */
export interface Sweepable {
  /**
   * sweep is called once per period; `sweepsToIdle` untouched sweeps in a row = idle past the
   * limit. It returns why it closed the connection, if it did.
   */
  sweep(sweepsToIdle: number): SweepClose | undefined;
}

/** IdleSweep visits a listener's connections every period. */
export class IdleSweep {
  /** periodMs is the time between two sweeps. */
  readonly periodMs: number;
  private readonly idleMs: number;
  private readonly sweepsToIdle: number;
  private readonly members: () => Iterable<Sweepable>;
  private readonly onClose: ((why: SweepClose) => void) | undefined;
  private timer: NodeJS.Timeout | undefined;

  /** `idleMs` is the idle limit; `members` lists the connections at each sweep; `onClose` counts the ones closed. */
  constructor(idleMs: number, members: () => Iterable<Sweepable>, onClose?: (why: SweepClose) => void) {
    this.idleMs = idleMs;
    // The limit is a whole number of periods, so idleness is seen at most one period late.
    this.sweepsToIdle = Math.max(1, Math.ceil(idleMs / IDLE_SWEEP_MS));
    this.periodMs = Math.max(1, Math.ceil(idleMs / this.sweepsToIdle));
    this.members = members;
    this.onClose = onClose;
  }

  /** start begins sweeping (again after stop); a limit of 0 or less never sweeps. */
  start(): void {
    if (this.timer !== undefined || this.idleMs <= 0) return;
    this.timer = setInterval(() => {
      for (const c of this.members()) {
        const closed = c.sweep(this.sweepsToIdle);
        if (closed !== undefined) this.onClose?.(closed);
      }
    }, this.periodMs);
    this.timer.unref();
  }

  /** stop ends sweeping. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

/**
 * IdleCount is one connection's count of the sweeps it slept through: a sweep finds it idle when
 * it was not touched (nothing read or written) and its progress figure (bytes still unsent: a
 * slow reader still reading is not idle) did not move since the sweep before.
 */
export class IdleCount {
  /** touched is set by the connection whenever it reads or writes. */
  touched = true;
  private progressAt = 0;
  private sweeps = 0;

  /** idle counts one sweep; true once `sweepsToIdle` sweeps in a row found no touch and no progress. */
  idle(sweepsToIdle: number, progress: number): boolean {
    if (this.touched || progress !== this.progressAt) {
      this.touched = false;
      this.progressAt = progress;
      this.sweeps = 0;
      return false;
    }
    return ++this.sweeps >= sweepsToIdle;
  }
}
