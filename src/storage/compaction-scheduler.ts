/**
 * CompactionScheduler decides when an LsmStore compacts its runs into LMDB, and paces retries.
 *
 * Three triggers, so a store converges to its cheapest shape (everything in LMDB: one B-tree
 * lookup on a memory map) whatever its workload:
 *  - runs: more than `max_runs` runs (write-heavy stores);
 *  - reads: reads have passed through runs without being answered there (a bloom probe, often an
 *    index search and a block read each) `max(READ_AMP_MIN, run entries ÷ READ_AMP_RATIO)` times
 *    since the run set last changed (read-mostly stores; LevelDB's seek-triggered compaction,
 *    charged per store rather than per file since a compaction takes every run);
 *  - idle: no write for `idleMs`: the store first flushes its active memtable (`flushIdle`), then
 *    its runs are compacted, so after a bulk of writes the data reaches LMDB (and the memtable's
 *    memory is freed) within about idleMs + one flush + one compaction.
 * A failed compaction is retried after a capped exponential delay (backoff.ts) and logged once
 * per state change (first failure, then recovery), never once per attempt.
 *
 * It also holds flushes back (`holdFlushes`, the flush queue's backpressure): while a compaction
 * drains runs over `max_runs`, and, while compactions keep failing, once runs reach
 * FAILING_RUNS_FACTOR × `max_runs` (until an attempt succeeds). Frozen memtables then pile up and
 * writes stall, refused while it is failing (`heldBack`, flush-queue.ts), so runs and their open
 * files cannot grow without bound under a lasting LMDB failure.
 *
 * Owned by one store on its worker thread; `compact` does the work and is never run twice at once.
 */
import type { Logger } from 'pino';
import { Backoff } from './backoff.js';

/** IDLE_COMPACT_MS: runs are compacted into LMDB once no write has arrived for this long. */
export const IDLE_COMPACT_MS = 5000;
/**
 * READ_AMP_RATIO: a compaction writes each run entry once, while a read passing through a run
 * costs a fraction of that; after entries ÷ READ_AMP_RATIO such passes the compaction has paid
 * for itself within a small factor, and every later read is cheaper.
 */
export const READ_AMP_RATIO = 4;
/** READ_AMP_MIN is the smallest read-pass budget before a read-triggered compaction. */
export const READ_AMP_MIN = 1000;

/**
 * ThreadGate runs one compaction at a time on this thread. Every worker thread loads its own copy
 * of this module, so the gate is per thread (state no other thread sees, as slot.ts's hasher):
 * the stores of one worker share its event loop, and compacting them one after another keeps the
 * compaction work of each loop turn to one chunk. Eight stores compacting at once after a bulk of
 * writes all went idle together made foreground reads wait behind eight chunks per turn.
 */
class ThreadGate {
  private busy = false;
  private readonly waiters: (() => void)[] = [];

  /** run waits for the gate, then runs `job` holding it. */
  async run<T>(job: () => Promise<T>): Promise<T> {
    while (this.busy) await new Promise<void>((resolve) => this.waiters.push(resolve));
    this.busy = true;
    try {
      return await job();
    } finally {
      this.busy = false;
      this.waiters.shift()?.();
    }
  }
}

const THREAD_GATE = new ThreadGate();

/**
 * FAILING_RUNS_FACTOR: while compactions fail, flushes go on up to this many times `max_runs` runs
 * (so a brief failure costs writers nothing), then wait until a compaction succeeds.
 */
export const FAILING_RUNS_FACTOR = 2;

/** CompactionReason names what triggered a compaction. */
export type CompactionReason = 'runs' | 'reads' | 'idle';

/** SchedulerOptions configure a CompactionScheduler. */
export interface SchedulerOptions {
  maxRuns: number;
  idleMs: number;
  retryMinMs?: number | undefined;
  retryMaxMs?: number | undefined;
  dir: string;
  log?: Logger | undefined;
  /** runs reports the current number of runs and the entries they hold. */
  runs(): { count: number; entries: number };
  /** memtableEmpty reports whether the active memtable holds nothing. */
  memtableEmpty(): boolean;
  /** flushIdle freezes a non-empty active memtable and schedules its flush (runsChanged follows). */
  flushIdle(): void;
  /** compact compacts every current run into LMDB (rejecting leaves the runs in place). */
  compact(reason: CompactionReason): Promise<void>;
}

/** CompactionScheduler triggers and paces one store's compactions. */
export class CompactionScheduler {
  private readonly o: SchedulerOptions;
  private readonly backoff: Backoff;
  /** running is the compaction in progress or waiting for this thread's gate, if any. */
  running: Promise<void> | undefined;
  /** timer is a pending check: the backoff retry, or the idle check. */
  private timer: NodeJS.Timeout | undefined;
  private lastWriteAt = performance.now();
  private readPasses = 0;
  private readPassBudget = Infinity;
  private closed = false;
  /** attemptWaiters wait for the end of the next compaction attempt (held flushes: holdFlushes). */
  private attemptWaiters: (() => void)[] = [];
  /** counters by trigger, for /stats. */
  readonly counts = { runs: 0, reads: 0, idle: 0 };

  constructor(o: SchedulerOptions) {
    this.o = o;
    this.backoff = new Backoff(o.retryMinMs, o.retryMaxMs);
    this.runsChanged();
  }

  /** failures is the number of failed compactions so far. */
  get failures(): number {
    return this.backoff.totalFailures;
  }

  /**
   * wrote records a write (it postpones the idle trigger, and arms it after a quiet spell). It is
   * called before the write reaches the memtable, so the timer is armed whatever the store holds
   * now: armIdle arms nothing for an empty store, and a lone write into one (fresh, or just
   * emptied by an idle compaction) stayed in the memtable until another write came.
   */
  wrote(): void {
    this.lastWriteAt = performance.now();
    if (this.timer === undefined && !this.closed) this.setTimer(this.o.idleMs + 1);
  }

  /** readPassed records that a read probed `runs` runs that did not answer it. */
  readPassed(runs: number): void {
    this.readPasses += runs;
    if (this.readPasses >= this.readPassBudget && this.running === undefined) this.check();
  }

  /** runsChanged resets the read-pass budget for the new run set, arms the idle check and checks. */
  runsChanged(): void {
    const { count, entries } = this.o.runs();
    this.readPasses = 0;
    this.readPassBudget = count === 0 ? Infinity : Math.max(READ_AMP_MIN, entries / READ_AMP_RATIO);
    this.armIdle();
    this.check();
  }

  /**
   * holdFlushes returns what the next flush must wait for, if anything: the running compaction
   * while runs exceed maxRuns; while compactions fail, the next attempt once runs reach
   * FAILING_RUNS_FACTOR × maxRuns.
   */
  holdFlushes(): Promise<void> | undefined {
    if (this.closed || this.o.runs().count <= this.o.maxRuns) return undefined;
    if (this.running !== undefined) return this.running;
    if (this.heldBack() === undefined) return undefined;
    return new Promise<void>((resolve) => this.attemptWaiters.push(resolve));
  }

  /** heldBack says why flushes are held back by failing compactions (for the writes it refuses), or undefined. */
  heldBack(): string | undefined {
    const failure = this.backoff.lastError;
    const { count } = this.o.runs();
    const limit = FAILING_RUNS_FACTOR * this.o.maxRuns;
    if (failure === undefined || count < limit || this.closed) return undefined;
    return `compaction into LMDB is failing (${failure.message}) with ${count} runs (flushes stop at ${limit}, ${FAILING_RUNS_FACTOR} × max_runs)`;
  }

  /** release lets flushes held back by failing compactions go (the store is closing). */
  release(): void {
    for (const w of this.attemptWaiters.splice(0)) w();
  }

  /** close stops every timer and releases held flushes; a running compaction finishes (await `running`). */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.release();
  }

  /** reason says why the runs should be compacted now, or undefined. */
  private reason(): CompactionReason | undefined {
    const { count } = this.o.runs();
    if (count === 0) return undefined;
    if (count > this.o.maxRuns) return 'runs';
    if (this.readPasses >= this.readPassBudget) return 'reads';
    if (performance.now() - this.lastWriteAt >= this.o.idleMs) return 'idle';
    return undefined;
  }

  /** armIdle schedules a check for when the store will have been idle for idleMs. */
  private armIdle(): void {
    if (this.timer !== undefined || this.closed) return;
    if (this.o.runs().count === 0 && this.o.memtableEmpty()) return;
    const wait = Math.max(0, this.lastWriteAt + this.o.idleMs - performance.now());
    this.setTimer(wait + 1);
  }

  private setTimer(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (performance.now() - this.lastWriteAt >= this.o.idleMs && !this.o.memtableEmpty())
        this.o.flushIdle();
      this.check();
      this.armIdle();
    }, ms);
    this.timer.unref();
  }

  /** check starts a compaction if one is due and no backoff delay is pending. */
  check(): void {
    if (this.running !== undefined || this.closed) return;
    if (this.backoff.failing && this.timer !== undefined) return;
    const reason = this.reason();
    if (reason === undefined) return;
    this.running = THREAD_GATE.run(async () => {
      if (this.closed) return false;
      await this.o.compact(reason);
      return true;
    })
      .then((ran) => {
        if (!ran) return;
        this.counts[reason]++;
        if (this.backoff.succeeded()) this.o.log?.info({ dir: this.o.dir }, 'compaction succeeded again');
      })
      .catch((err: unknown) => {
        if (this.backoff.failed(err as Error))
          this.o.log?.error(
            { err: (err as Error).message, dir: this.o.dir },
            'compaction failed; retrying with backoff (logged again only when it succeeds)',
          );
      })
      .finally(() => {
        this.running = undefined;
        this.release();
        if (this.closed) return;
        if (this.backoff.failing) this.setTimer(this.backoff.delayMs());
        else this.runsChanged();
      });
  }
}
