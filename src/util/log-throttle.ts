/**
 * LogThrottle: at most one log line a window per kind of event, for events a client can cause at
 * request rate (a replication request refused for its config, say): without it, anyone who can
 * reach the port makes the node write a line per request.
 *
 * Events are grouped by a key (e.g. reason and peer). The first event of a key is written at once.
 * Further events of that key within the window (`windowMs`, a minute by default) are counted, not
 * written; when the window ends, one line sums them up (`more`: how many since the last line, with
 * the last one's detail) and a new window starts. A window that ends without events forgets the key,
 * so the next event is written at once again. The information is kept, the rate is bounded: per key,
 * at most one line a window after the first.
 *
 * Keys may come from clients (a peer's name in a query), so at most `maxKeys` are tracked; events of
 * further keys share the key OTHER_KEY (its lines carry the last such event's detail, and `shared`,
 * so that they do not read as one key's), so memory and lines stay bounded whatever names clients
 * send.
 *
 * Timers are unref'd (a pending summary does not hold the process open); `close()` writes the
 * pending summaries and stops them. Single-threaded: one instance per thread.
 */

/** LOG_WINDOW_MS is the default window: one summary line a minute per key at most. */
export const LOG_WINDOW_MS = 60_000;
/** MAX_LOG_KEYS is the default bound on keys tracked at once. */
export const MAX_LOG_KEYS = 256;
/** OTHER_KEY is the key events share once `maxKeys` keys are tracked. */
export const OTHER_KEY = '(other)';

/** ThrottleClock is the time and timers a LogThrottle uses (real ones by default; a twin in tests). */
export interface ThrottleClock {
  now(): number;
  /** schedule calls `fn` after `ms`; returns a function that cancels it. */
  schedule(fn: () => void, ms: number): () => void;
}

/** REAL_CLOCK is performance.now() and unref'd timers. */
export const REAL_CLOCK: ThrottleClock = {
  now: () => performance.now(),
  schedule(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => {
      clearTimeout(t);
    };
  },
};

/**
 * ThrottledWrite writes one line: `more` is 0 for the first event of a key, else the number of events
 * since the last line (the window's), which lasted `sinceMs`; `detail` is the last event's. `shared`
 * is set for the lines of OTHER_KEY: events of many keys (those past `maxKeys`), whatever the
 * detail of the last one says.
 */
export type ThrottledWrite<T> = (detail: T, more: number, sinceMs: number, shared: boolean) => void;

/** LogThrottleOptions: the window, the bound on keys, the clock (defaults above). */
export interface LogThrottleOptions {
  windowMs?: number;
  maxKeys?: number;
  clock?: ThrottleClock;
}

/** Window is one key's state: when its last line was written, and what came since. */
interface Window<T> {
  loggedAt: number;
  more: number;
  last: T;
  cancel: () => void;
}

/** LogThrottle writes events through `write`, throttled per key (see the design block). */
export class LogThrottle<T> {
  private readonly windows = new Map<string, Window<T>>();
  private readonly write: ThrottledWrite<T>;
  private readonly windowMs: number;
  private readonly maxKeys: number;
  private readonly clock: ThrottleClock;

  constructor(write: ThrottledWrite<T>, options: LogThrottleOptions = {}) {
    this.write = write;
    this.windowMs = options.windowMs ?? LOG_WINDOW_MS;
    this.maxKeys = options.maxKeys ?? MAX_LOG_KEYS;
    this.clock = options.clock ?? REAL_CLOCK;
  }

  /** note records an event of `key`: written now when it is the key's first, else counted. */
  note(key: string, detail: T): void {
    const k = this.windows.has(key) || this.windows.size < this.maxKeys ? key : OTHER_KEY;
    const w = this.windows.get(k);
    if (w !== undefined) {
      w.more++;
      w.last = detail;
      return;
    }
    this.write(detail, 0, 0, k === OTHER_KEY);
    this.open(k, detail);
  }

  /** tracked is the number of keys in a window now (for tests). */
  get tracked(): number {
    return this.windows.size;
  }

  /** close writes every pending summary and stops the timers. */
  close(): void {
    for (const [key, w] of this.windows) {
      w.cancel();
      if (w.more > 0) this.write(w.last, w.more, this.clock.now() - w.loggedAt, key === OTHER_KEY);
      this.windows.delete(key);
    }
  }

  private open(key: string, detail: T): void {
    const w: Window<T> = { loggedAt: this.clock.now(), more: 0, last: detail, cancel: () => undefined };
    w.cancel = this.clock.schedule(() => {
      this.end(key, w);
    }, this.windowMs);
    this.windows.set(key, w);
  }

  /** end closes a key's window: quiet, the key is forgotten; else its summary is written and a new window starts. */
  private end(key: string, w: Window<T>): void {
    this.windows.delete(key);
    if (w.more === 0) return;
    this.write(w.last, w.more, this.clock.now() - w.loggedAt, key === OTHER_KEY);
    this.open(key, w.last);
  }
}
