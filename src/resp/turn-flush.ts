/**
 * TurnFlush: runs the flushes that connections ask for during one event-loop turn together, from
 * one `setImmediate` per turn per listener.
 *
 * A shard worker's reply batch completes the commands of many connections at once (at
 * `redis-benchmark -P 1 -c 50`, about one reply per connection). One immediate per connection cost
 * an Immediate object each and, after each one's socket write, a separate drain of the nextTick
 * queue (where node:net finishes a write); one immediate for all of them writes every socket in a
 * row and drains that queue once. Each connection still writes once per turn, after every reply
 * batch of the turn has arrived.
 */

/** Flushable is a connection with replies to write. */
export interface Flushable {
  flush(): void;
}

/** TurnFlush batches flushes into one setImmediate. Used by one listener's connections, on one thread. */
export class TurnFlush {
  // due[0, count) are this turn's flushes; spare is the other array, swapped in by `run`. Places are
  // cleared as they run and the arrays kept: `length = 0` dropped their backing stores.
  private due: (Flushable | undefined)[] = [];
  private spare: (Flushable | undefined)[] = [];
  private count = 0;
  private scheduled = false;
  private readonly runBound = (): void => {
    this.run();
  };

  /** schedule asks for `c.flush()` at the end of this turn; the caller asks once per turn per connection. */
  schedule(c: Flushable): void {
    this.due[this.count++] = c;
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.runBound);
  }

  private run(): void {
    this.scheduled = false;
    const due = this.due;
    const n = this.count;
    this.due = this.spare;
    this.count = 0;
    for (let i = 0; i < n; i++) {
      const c = due[i]!;
      due[i] = undefined;
      c.flush();
    }
    this.spare = due;
  }
}
