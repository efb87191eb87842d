/**
 * A Feed follows one local store's log for every watcher of this process (docs/watch.md, "Where
 * events come from"): one long-poll (`watch-read`) at a time, however many watchers, decoding
 * each batch once and handing it to every subscriber in log order. It reads after its own
 * position, so a watcher never slows the store: a slow watcher only falls behind in its own buffer.
 *
 * When the store's log jumps (the store was rebuilt, or its seqs went back), subscribers are told
 * to `reset`: each catches up from its own position again (or takes a snapshot).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { LogRecord } from './store-log.js';
import { decodeLog } from './store-log.js';

/**
 * LogReader reads a store's log on its worker (the `watch-read` message); `epoch` is the epoch of
 * the store's newest records (its log's), absent for a store without one (forked-store.ts).
 */
export type LogReader = (
  after: number,
  maxBytes: number,
  waitMs: number,
) => Promise<{ gone: boolean; records: Buffer; lastSeq: number; end: number; epoch?: number | undefined }>;

/** FeedSubscriber receives a feed's batches. */
export interface FeedSubscriber {
  /** records: contiguous records, in seq order, continuing the feed's previous batch. */
  records(batch: readonly LogRecord[]): void;
  /** reset: the feed's log jumped; catch up again from your own position. */
  reset(): void;
  /** failed: the feed cannot go on (a record it cannot decode); the stream must end. */
  failed(): void;
  /**
   * pollAt is the soonest time (performance.now()) at which the subscriber would write a new
   * batch (a busy broadcast's next flush, a little ahead); absent, it writes one at once.
   */
  pollAt?(): number;
}

/** FEED_MAX_BYTES is the most a feed reads per poll. */
export const FEED_MAX_BYTES = 1024 * 1024;
/** FEED_WAIT_MS is how long a poll waits for a record (and so how late a feed notices it is unused). */
export const FEED_WAIT_MS = 500;
/**
 * FEED_MIN_INTERVAL_MS spaces a feed's polls while records keep coming: under load each poll then
 * brings a larger batch, so a watcher gets one write per interval instead of one per group commit
 * (the fan-out costs a write per batch and watcher). An idle feed's poll returns at the first record.
 * When every subscriber would hold a batch longer (a busy broadcast writes at most every so often,
 * see pollAt), the feed polls just before the soonest of them writes instead: polling sooner
 * would only make more, smaller batches waiting there (each poll is a message to the store's
 * worker and back), and polling just before the write keeps the batch's wait short.
 */
export const FEED_MIN_INTERVAL_MS = 10;
const RETRY_MS = 200;

/** FeedClock is the time a feed spaces its polls by (`pollAt` values are on the same scale). */
export interface FeedClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

/** REAL_CLOCK is performance.now() and timers: what every feed of a server uses. */
export const REAL_CLOCK: FeedClock = { now: () => performance.now(), sleep };

/** Feed is the shared follower of one store's log. */
export class Feed {
  private readonly subscribers = new Set<FeedSubscriber>();
  private readonly read: LogReader;
  private readonly onIdle: () => void;
  private readonly clock: FeedClock;
  private pos: number;
  private running = false;
  private stopped = false;

  /** `start` is the seq the feed follows after (the store's last acknowledged seq). */
  constructor(read: LogReader, start: number, onIdle: () => void, clock: FeedClock = REAL_CLOCK) {
    this.read = read;
    this.pos = start;
    this.onIdle = onIdle;
    this.clock = clock;
  }

  /** stopped: the feed ended (no subscriber was left); a new one must be made. */
  get done(): boolean {
    return this.stopped;
  }

  /** position is the seq of the last record the feed delivered (or started after). */
  get position(): number {
    return this.pos;
  }

  subscribe(s: FeedSubscriber): void {
    this.subscribers.add(s);
    if (!this.running && !this.stopped) {
      this.running = true;
      void this.loop().catch(() => {
        // Only decoding can throw here (a damaged record): no watcher of this store can go on.
        this.running = false;
        this.stopped = true;
        for (const s of [...this.subscribers]) s.failed();
        this.subscribers.clear();
        this.onIdle();
      });
    }
  }

  unsubscribe(s: FeedSubscriber): void {
    this.subscribers.delete(s);
  }

  /** stop ends the feed after its current poll. */
  stop(): void {
    this.stopped = true;
  }

  /** nextPoll is when to poll after one made at `lastPoll`: FEED_MIN_INTERVAL_MS later, or the soonest pollAt. */
  private nextPoll(lastPoll: number): number {
    let at = Infinity;
    for (const s of this.subscribers) at = Math.min(at, s.pollAt?.() ?? 0);
    return Math.max(lastPoll + FEED_MIN_INTERVAL_MS, at === Infinity ? 0 : at);
  }

  private async loop(): Promise<void> {
    let lastPoll = 0;
    while (!this.stopped && this.subscribers.size > 0) {
      // A subscriber's pollAt moves when it writes (a broadcast flushes): look again after each sleep.
      for (let early = this.nextPoll(lastPoll) - this.clock.now(); early > 0;) {
        await this.clock.sleep(early);
        early = this.nextPoll(lastPoll) - this.clock.now();
      }
      lastPoll = this.clock.now();
      let r: Awaited<ReturnType<LogReader>>;
      try {
        r = await this.read(this.pos, FEED_MAX_BYTES, FEED_WAIT_MS);
      } catch {
        // The worker is restarting or the store is being rebuilt: try again shortly.
        await this.clock.sleep(RETRY_MS);
        continue;
      }
      if (r.gone || r.end < this.pos) {
        this.pos = r.end;
        for (const s of [...this.subscribers]) s.reset();
        continue;
      }
      if (r.records.length === 0) continue;
      const batch = decodeLog(r.records);
      this.pos = r.lastSeq;
      for (const s of [...this.subscribers]) deliver(s, batch);
    }
    this.running = false;
    this.stopped = true;
    this.onIdle();
  }
}

/** deliver hands a batch to one subscriber; one that throws is ended alone. */
function deliver(s: FeedSubscriber, batch: readonly LogRecord[]): void {
  try {
    s.records(batch);
  } catch {
    s.failed();
  }
}
