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
 *    memory is freed) within about idleMs + one flush + one compaction. The check is armed when
 *    a write lands in the memtable (`landed`) or the runs change, never for a store that holds
 *    nothing outside LMDB (an idle node runs no timers for its empty stores).
 * A failed compaction is retried after a capped exponential delay (backoff.ts) and logged as
 * it starts failing (its cause, an LMDB commit's said by its errno, without a stack), then at most
 * every 30 s with the count while it keeps failing, and once when it succeeds again
 * (src/util/repeat-log.ts), never once per attempt.
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
import { DistkvError } from '../errors.js';
import { REMINDER_MS, type RepeatEvent, RepeatLog, runSummary } from '../util/repeat-log.js';
import { Backoff, BACKOFF_MAX_MS } from './backoff.js';
import { commitFailureText } from './lmdb-env.js';

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
  /** reminderMs is the interval between two lines of a lasting failure (REMINDER_MS; tests shorten it). */
  reminderMs?: number | undefined;
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
  /** failureLog tells of a run of failed compactions: its start, reminders, its end. */
  private readonly failureLog: RepeatLog;
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
    this.failureLog = new RepeatLog(
      (e) => {
        this.say(e);
      },
      o.reminderMs === undefined ? {} : { reminderMs: o.reminderMs },
    );
    this.runsChanged();
  }

  /** failures is the number of failed compactions so far. */
  get failures(): number {
    return this.backoff.totalFailures;
  }

  /**
   * wrote records a write as it is accepted (it postpones the idle trigger). The write reaches the
   * memtable only once durable, so this arms nothing: `landed` does.
   */
  wrote(): void {
    this.lastWriteAt = performance.now();
  }

  /**
   * landed records that a write reached the active memtable, and arms the idle check if none is
   * pending. Every other change to what the store holds (a flush, a compaction) arms it through
   * runsChanged; a write into an empty store is the one that must arm it here. Armed in `wrote`
   * instead, the check ran on a store still empty when the write took longer than idleMs to land
   * (a loaded disk or event loop), found nothing to do and armed nothing more: the write stayed in
   * the memtable and the log until another write came (test/unit/idle-flush-lone-write).
   */
  landed(): void {
    this.armIdle();
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

  /**
   * heldBack is what writes are refused with while failing compactions hold flushes back, or
   * undefined: DISK_FULL (what a compaction mostly fails on, and what the retries outlast), or
   * CORRUPTION when it fails reading a damaged run, which no retry mends (said as DISK_FULL, 507,
   * with 171 MB free, and "the runs keep the data meanwhile": the shard took no write again).
   */
  heldBack(): DistkvError | undefined {
    const failure = this.backoff.lastError;
    const { count } = this.o.runs();
    const limit = FAILING_RUNS_FACTOR * this.o.maxRuns;
    if (failure === undefined || count < limit || this.closed) return undefined;
    const what = `compaction into LMDB is failing (${failure.message}) with ${count} runs (flushes stop at ${limit}, ${FAILING_RUNS_FACTOR} × max_runs)`;
    if (failure instanceof DistkvError && failure.code === 'CORRUPTION')
      return new DistkvError(
        'CORRUPTION',
        `${what}: a run it reads is damaged, which no retry mends, so every write is refused (reads of the keys elsewhere keep working). Fail the shard over to a replica if it is this store's leader (distkv failover --shard NAME --to REPLICA), then stop the node, move this store's directory aside and start the node with --repair: the store opens empty and copies the shard from its leader (docs/operations.md, "Damage on disk and --repair")`,
      );
    return new DistkvError('DISK_FULL', `${what}; writes are refused until it succeeds`);
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

  /**
   * armIdle schedules a check for when the store will have been idle for idleMs, unless one is
   * pending or the store holds nothing outside LMDB (an idle, empty store keeps no timer).
   */
  private armIdle(): void {
    if (this.timer !== undefined || this.closed) return;
    if (this.o.runs().count === 0 && this.o.memtableEmpty()) return;
    // Once the idle moment has passed, the check ran and could not act (its flush refused while
    // an earlier one is unflushed, its compaction running or gated): the next try is a whole
    // window later, not at once, which re-armed every 1 ms for as long as that lasted
    // (test/unit/compaction-scheduler-rearm). A flush or compaction that ends calls runsChanged,
    // which checks at once.
    const wait = this.lastWriteAt + this.o.idleMs - performance.now();
    this.setTimer(wait > 0 ? wait + 1 : this.o.idleMs);
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
        this.backoff.succeeded();
        this.failureLog.succeeded();
      })
      .catch(async (err: unknown) => {
        this.backoff.failed(err as Error);
        this.failureLog.failed(await commitFailureText(err));
      })
      .finally(() => {
        this.running = undefined;
        this.release();
        if (this.closed) return;
        if (this.backoff.failing) this.setTimer(this.backoff.delayMs());
        else this.runsChanged();
      });
  }

  /** say writes a line of failureLog: what failed and why, what happens meanwhile, when it recovered. */
  private say(e: RepeatEvent): void {
    const log = this.o.log;
    if (log === undefined) return;
    const dir = this.o.dir;
    if (e.kind === 'started') {
      log.error(
        { err: e.cause, dir },
        `compaction failed (${e.cause}); retrying with backoff, up to ${Math.round((this.o.retryMaxMs ?? BACKOFF_MAX_MS) / 1000)} s apart. The runs and the commit log keep the data meanwhile; writes are refused once the runs reach ${FAILING_RUNS_FACTOR} × max_runs. A reminder every ${(this.o.reminderMs ?? REMINDER_MS) / 1000} s, a line when it succeeds again`,
      );
      return;
    }
    const fields = { dir, failures: e.failures, since_ms: Math.round(e.sinceMs) };
    if (e.kind === 'changed')
      log.error(
        { err: e.cause, ...fields },
        `compaction now fails with ${e.cause} (before: ${e.before}; ${runSummary(e.failures, e.sinceMs)} so far)`,
      );
    else if (e.kind === 'reminder')
      log.error(
        { err: e.cause, ...fields },
        `compaction still failing (${runSummary(e.failures, e.sinceMs)}; the last: ${e.cause})`,
      );
    else log.info(fields, `compaction succeeded again, after ${runSummary(e.failures, e.sinceMs)}`);
  }
}
