/**
 * LogPolls sends the feeds' reads of one process's store logs (feed.ts) to the workers as one
 * message per worker per turn (docs/watch.md, "Where events come from").
 *
 * Why: the feeds of a busy broadcast poll together, just before its flush (feed.ts `pollAt`). As
 * one `watch-read` each, a broadcast of 4 shards on one worker cost 4 messages, 4 wake-ups of
 * each thread and 4 answers per flush. Reads asked for in one turn of the event loop now leave at
 * its end (setImmediate) as one `watch-polls` per worker, which the worker answers once the first
 * of its stores has a record after its read's position (src/watch/watch-tap.ts `watchPolls`).
 *
 * What changes for a feed: a read that shares a message may be answered sooner than alone (another
 * store's record ended the wait), with no records; the feed then polls again at its own pace
 * (FEED_MIN_INTERVAL_MS), as after a wait that ran out. A read that fails (its store is not open
 * here) fails alone; a message that fails (the worker restarts) fails every read in it, and each
 * feed retries as before.
 *
 * Invariants: every read asked for is answered exactly once (its promise settles); reads leave in
 * the order they were asked for, one message per worker, with the shortest wait any of them asked.
 */
import { DistkvError, errorFromWire } from '../errors.js';
import type { WatchPoll, WatchPollAnswer } from '../worker/messages.js';
import type { LogReader } from './feed.js';

/** PollWorker sends one `watch-polls` to `worker` and resolves with its answers (one per read, in order). */
export type PollWorker = (worker: number, reads: WatchPoll[], waitMs: number) => Promise<WatchPollAnswer[]>;

type ReadResult = Awaited<ReturnType<LogReader>>;

/** Asked is one read waiting for its turn's message. */
interface Asked {
  read: WatchPoll;
  waitMs: number;
  resolve(r: ReadResult): void;
  reject(e: Error): void;
}

const NO_RECORDS = Buffer.alloc(0);

/** LogPolls gathers the reads of one turn into one message per worker. */
export class LogPolls {
  private readonly send: PollWorker;
  // reads asked for this turn, by worker (emptied when they leave)
  private asked = new Map<number, Asked[]>();
  private scheduled = false;
  private readonly sendBound = (): void => {
    this.sendAll();
  };

  constructor(send: PollWorker) {
    this.send = send;
  }

  /** reader is a LogReader of store `store` on worker `worker` whose reads go out with the turn's others. */
  reader(worker: number, store: number): LogReader {
    return (after, maxBytes, waitMs) =>
      new Promise<ReadResult>((resolve, reject) => {
        let list = this.asked.get(worker);
        if (list === undefined) this.asked.set(worker, (list = []));
        list.push({ read: { store, after, maxBytes }, waitMs, resolve, reject });
        if (!this.scheduled) {
          this.scheduled = true;
          setImmediate(this.sendBound);
        }
      });
  }

  /** sendAll sends the turn's reads: one message per worker. */
  private sendAll(): void {
    this.scheduled = false;
    const asked = this.asked;
    this.asked = new Map();
    for (const [worker, list] of asked) {
      let waitMs = Infinity;
      for (const a of list) waitMs = Math.min(waitMs, a.waitMs);
      this.send(
        worker,
        list.map((a) => a.read),
        waitMs,
      ).then(
        (answers) => {
          answerEach(list, answers);
        },
        (err: unknown) => {
          const e = err instanceof Error ? err : new DistkvError('INTERNAL', String(err));
          for (const a of list) a.reject(e);
        },
      );
    }
  }
}

/** answerEach settles each read of a message with its answer. */
function answerEach(list: readonly Asked[], answers: readonly WatchPollAnswer[]): void {
  if (answers.length !== list.length) {
    const e = new DistkvError('INTERNAL', `watch-polls answered ${answers.length} reads of ${list.length}`);
    for (const a of list) a.reject(e);
    return;
  }
  for (let i = 0; i < list.length; i++) {
    const a = list[i]!;
    const r = answers[i]!;
    if (!r.ok) {
      a.reject(errorFromWire(r.error));
      continue;
    }
    const records = r.buffer === null ? NO_RECORDS : Buffer.from(r.buffer, 0, r.length);
    a.resolve({ gone: r.gone, records, lastSeq: r.lastSeq, end: r.end, epoch: r.epoch });
  }
}
