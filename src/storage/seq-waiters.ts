/**
 * SeqWaiters: callers waiting until a log has come as far as a seq (store-log.ts: replicas and
 * watchers long-polling for records after their position, and a fed replica waiting for the parts
 * still in flight to settle). `reach(seq)` resolves every wait for that seq or an earlier one, in
 * the order they were made; a wait with a time limit also resolves when it runs out, and
 * `releaseAll` resolves every wait at once (the log closed or can give nothing more). A wait only
 * says "look again": it never carries a result.
 */

interface Wait {
  seq: number;
  resolve: () => void;
  timer: NodeJS.Timeout | undefined;
}

/** SeqWaiters holds the waits of one log (see above). Used only on the log's thread. */
export class SeqWaiters {
  private waits: Wait[] = [];

  /** size is how many waits are pending. */
  get size(): number {
    return this.waits.length;
  }

  /** wait resolves once `reach` passes `seq`, on `releaseAll`, or after `ms` when given. */
  wait(seq: number, ms?: number): Promise<void> {
    return new Promise((resolve) => {
      const w: Wait = { seq, resolve, timer: undefined };
      this.waits.push(w);
      if (ms !== undefined)
        w.timer = setTimeout(() => {
          this.waits = this.waits.filter((x) => x !== w);
          resolve();
        }, ms);
    });
  }

  /** reach resolves the waits for `seq` or earlier. */
  reach(seq: number): void {
    if (this.waits.length === 0) return;
    const ready = this.waits.filter((w) => w.seq <= seq);
    if (ready.length === 0) return;
    this.waits = this.waits.filter((w) => w.seq > seq);
    for (const w of ready) {
      clearTimeout(w.timer);
      w.resolve();
    }
  }

  /** releaseAll resolves every wait. */
  releaseAll(): void {
    const all = this.waits;
    this.waits = [];
    for (const w of all) {
      clearTimeout(w.timer);
      w.resolve();
    }
  }
}
