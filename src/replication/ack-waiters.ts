/**
 * AckWaiters: the `w=N` writes of one leader store waiting for N replica acks of their seq
 * (leader-state.ts). A leader with replicas on other workers of its process (rings) reads their
 * acks from shared memory, which changes without an event, so it looks again every millisecond
 * while any write waits; with thousands of writes waiting (a replica down, each `w=2` write
 * waiting out its timeout) that look must not cost one pass over them all.
 *
 * Waiters are kept by N, each list in seq order. A waiter is answered once N replicas hold its seq,
 * that is once the N-th highest ack is at or above it: a look answers, in each list, the prefix of
 * seqs at or below that ack, and stops at the first seq above it. It costs the acks' sort plus one
 * step per list and per waiter answered. A waiter whose time ran out is marked, and dropped once
 * the waiters before it in its list are answered too (at once, with one timeout for all).
 */

interface AckWaiter {
  seq: number;
  resolve: (acked: number) => void;
  timer: NodeJS.Timeout | undefined;
  done: boolean;
}

/** countAtLeast counts the acks of `acked` (highest first) at or above `seq`. */
export function countAtLeast(acked: readonly number[], seq: number): number {
  let n = 0;
  while (n < acked.length && acked[n]! >= seq) n++;
  return n;
}

/** AckWaiters holds one leader store's waiting `w=N` writes (see above). Used only on the leader's worker thread. */
export class AckWaiters {
  /** byN holds, for each N, its waiters in seq order. */
  private readonly byN = new Map<number, AckWaiter[]>();
  /** live counts the waiters not answered yet. */
  private live = 0;

  /** size is the number of waiters not answered yet. */
  get size(): number {
    return this.live;
  }

  /**
   * add waits until `n` replicas hold `seq` (a `look` says so) or `timeoutMs` passed; then it
   * resolves with the number that hold it, read by `count` at the timeout.
   */
  add(seq: number, n: number, timeoutMs: number, count: () => number): Promise<number> {
    return new Promise((resolve) => {
      const w: AckWaiter = { seq, resolve, timer: undefined, done: false };
      w.timer = setTimeout(() => {
        this.answer(w, count());
        this.dropAnswered(n);
      }, timeoutMs);
      let list = this.byN.get(n);
      if (list === undefined) {
        list = [];
        this.byN.set(n, list);
      }
      // Seqs come mostly in order: the place is found from the end.
      let i = list.length;
      while (i > 0 && list[i - 1]!.seq > seq) i--;
      list.splice(i, 0, w);
      this.live++;
    });
  }

  /** look answers every waiter whose seq enough replicas hold; `acked` are the acks that count, highest first. */
  look(acked: readonly number[]): void {
    for (const [n, list] of this.byN) {
      const through = acked[n - 1] ?? Number.NEGATIVE_INFINITY;
      let k = 0;
      while (k < list.length && (list[k]!.done || list[k]!.seq <= through)) {
        const w = list[k]!;
        if (!w.done) this.answer(w, countAtLeast(acked, w.seq));
        k++;
      }
      if (k === list.length) this.byN.delete(n);
      else if (k > 0) list.splice(0, k);
    }
  }

  /**
   * dropAnswered drops the answered waiters at the head of list `n` (a timeout's: with one timeout
   * for all, the oldest seq's), and every list once none waits: so a replica that never acks
   * (its writes all time out) leaves no waiters behind.
   */
  private dropAnswered(n: number): void {
    if (this.live === 0) {
      this.byN.clear();
      return;
    }
    const list = this.byN.get(n);
    if (list === undefined) return;
    let k = 0;
    while (k < list.length && list[k]!.done) k++;
    if (k === list.length) this.byN.delete(n);
    else if (k > 0) list.splice(0, k);
  }

  private answer(w: AckWaiter, acked: number): void {
    if (w.done) return;
    w.done = true;
    clearTimeout(w.timer);
    this.live--;
    w.resolve(acked);
  }
}
