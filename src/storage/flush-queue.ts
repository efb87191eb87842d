/**
 * FlushQueue: an LSM store's frozen memtables on their way to becoming runs (lsm-store.ts), and the
 * write stall they cause. A memtable pushed here is flushed in the background, oldest first, one at
 * a time; reads keep seeing it (`frozen`, newest first) until its run is in place. A failed flush is
 * retried with capped exponential backoff (backoff.ts), logged once when it starts failing and once
 * when it recovers. With MAX_FROZEN memtables waiting, writes wait for a flush (`stall`), or are
 * refused while flushes keep failing (with what the failure means: dir-errors.ts `flushFailing`;
 * DISK_FULL for a full disk) or with DISK_FULL while failing compactions hold them back
 * (`heldBack`, compaction-scheduler.ts). Used only on the store's worker thread.
 */
import type { Logger } from 'pino';
import { DistkvError } from '../errors.js';
import { LatencyHistogram } from '../util/latency-histogram.js';
import { Backoff } from './backoff.js';
import { flushFailing } from './dir-errors.js';
import type { Memtable } from './memtable.js';

/** MAX_FROZEN is how many frozen memtables may wait for flushing before writes stall. */
export const MAX_FROZEN = 2;

/** FlushTarget is what the queue flushes into: the store's runs. */
export interface FlushTarget {
  /** build writes `m` as the store's newest run and puts it in place (it is still in `frozen`). */
  build(m: Memtable): Promise<void>;
  /** flushed: `m`, now in a run, has left `frozen`. */
  flushed(m: Memtable): void;
  /** backpressure returns what to wait for before the next flush may start (a compaction draining runs), if anything. */
  backpressure(): Promise<void> | undefined;
  /** heldBack is what failing compactions that hold flushes back refuse writes with, or undefined. */
  heldBack(): DistkvError | undefined;
  /** isClosed says the store closed: flushing stops. */
  isClosed(): boolean;
  /** isClosing says the store is closing: a failed flush is not retried. */
  isClosing(): boolean;
  /**
   * stopped returns the refusal that ends flushing for good (the store's directory is gone:
   * store-dir-watch.ts), checked before each flush; the frozen memtables then stay, their records
   * in the log. Absent: never.
   */
  stopped?(): Error | undefined;
  dir: string;
  log?: Logger | undefined;
  retryMinMs?: number | undefined;
  retryMaxMs?: number | undefined;
}

/** FlushQueue holds and flushes one store's frozen memtables. */
export class FlushQueue {
  /** frozen memtables, newest first (reads look at them in this order). */
  readonly frozen: Memtable[];
  /** running is the flush loop in progress, if any. */
  running: Promise<void> | undefined;
  readonly counters = { flushes: 0, flushMsTotal: 0, writeStalls: 0 };
  /** seconds times each flush (for the /metrics histogram). */
  readonly seconds = new LatencyHistogram();
  private readonly target: FlushTarget;
  private readonly backoff: Backoff;
  private stallWaiters: (() => void)[] = [];
  /** retryWait ends the wait before the next attempt after a failure (`retryNow`), while one runs. */
  private retryWait: (() => void) | undefined;

  /** `frozen` are memtables recovery left frozen, newest first; call `schedule` to start flushing them. */
  constructor(target: FlushTarget, frozen: Memtable[]) {
    this.target = target;
    this.frozen = frozen;
    this.backoff = new Backoff(target.retryMinMs, target.retryMaxMs);
  }

  /** failures is the number of failed flushes so far. */
  get failures(): number {
    return this.backoff.totalFailures;
  }

  /** mustStall says a write has to wait for a flush first. */
  get mustStall(): boolean {
    return this.frozen.length >= MAX_FROZEN;
  }

  /** push makes `m` the newest frozen memtable and starts flushing if need be. */
  push(m: Memtable): void {
    this.frozen.unshift(m);
    this.schedule();
  }

  /**
   * drain resolves once no frozen memtable is left unflushed; if the loop gave up on a failing
   * flush (the store closing), it rejects with that failure: the memtables are not in a run, and a
   * closing store says so (their records stay in the commit log).
   */
  async drain(): Promise<void> {
    while (this.running !== undefined) await this.running;
    const failure = this.backoff.lastError;
    if (this.frozen.length > 0 && failure !== undefined) throw flushFailing(this.target.dir, failure);
  }

  /** stall waits while MAX_FROZEN memtables wait for flushing; refuses while flushes fail (flushFailing) or are held back (DISK_FULL). */
  async stall(): Promise<void> {
    while (this.mustStall) {
      const stopped = this.target.stopped?.();
      if (stopped !== undefined) throw stopped;
      // Never wait on a flush that keeps failing (disk full), or that failing compactions hold back.
      const refused = this.refusal();
      if (refused !== undefined) throw refused;
      this.counters.writeStalls++;
      await new Promise<void>((resolve) => this.stallWaiters.push(resolve));
      if (this.target.isClosed()) throw new DistkvError('UNAVAILABLE', 'store is closed');
    }
  }

  /**
   * refusal is what a write is refused with now (`stall`), without waiting: while MAX_FROZEN
   * memtables wait, a flush that keeps failing (flushFailing) or failing compactions that hold
   * flushes back (`heldBack`); undefined otherwise. /cluster shows it (Store.writeRefusal).
   */
  refusal(): DistkvError | undefined {
    if (!this.mustStall) return undefined;
    const failure = this.backoff.lastError;
    if (failure !== undefined) return flushFailing(this.target.dir, failure);
    return this.target.heldBack();
  }

  /**
   * retryNow ends the wait before the next attempt of a failing flush, if one runs: the store is
   * closing, and its one last attempt goes at once. The wait grows to 30 s (backoff.ts), and a
   * close that waited it out kept a stopping node on a full disk running for as long (the stop's
   * bound is DESIGN.md section 3's 5 s).
   */
  retryNow(): void {
    this.retryWait?.();
  }

  /** schedule starts the flush loop unless it runs, nothing waits or the store closed. */
  schedule(): void {
    if (this.running !== undefined || this.frozen.length === 0 || this.target.isClosed()) return;
    this.running = this.loop().finally(() => {
      this.running = undefined;
    });
  }

  private async loop(): Promise<void> {
    const t = this.target;
    while (this.frozen.length > 0) {
      // Backpressure: while a compaction drains runs over the limit, or failing compactions leave
      // too many runs, flush no more; frozen memtables then pile up and writes stall, so writes go
      // no faster than compaction.
      // Stalled writes are woken at each step, so they are refused once failing compactions hold flushes.
      for (let wait = t.backpressure(); wait !== undefined && !t.isClosed(); wait = t.backpressure()) {
        for (const w of this.stallWaiters.splice(0)) w();
        await wait;
      }
      if (t.stopped?.() !== undefined) {
        for (const w of this.stallWaiters.splice(0)) w();
        return;
      }
      const m = this.frozen[this.frozen.length - 1]!;
      const t0 = performance.now();
      try {
        await t.build(m);
        this.frozen.pop();
        this.counters.flushes++;
        const ms = performance.now() - t0;
        this.counters.flushMsTotal += ms;
        this.seconds.observe(ms / 1000);
        if (this.backoff.succeeded()) t.log?.info({ dir: t.dir }, 'memtable flush succeeded again');
      } catch (err) {
        if (this.backoff.failed(err as Error))
          t.log?.error(
            { err: (err as Error).message, dir: t.dir },
            'memtable flush failed; retrying with backoff (logged again only when it succeeds)',
          );
        if (t.isClosed() || t.isClosing()) return;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.backoff.delayMs());
          this.retryWait = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.retryWait = undefined;
        continue;
      } finally {
        for (const w of this.stallWaiters.splice(0)) w();
      }
      try {
        t.flushed(m);
      } catch (err) {
        // The memtable is in a run either way: what follows a flush (the log's trim) must not end
        // the loop, whose rejection nothing awaits (in a worker it would end the thread).
        t.log?.error({ err: (err as Error).message, dir: t.dir }, 'after a memtable flush');
      }
      if (t.isClosed()) return;
    }
  }
}
