/**
 * ReplyIntake: how the main thread takes one shard worker's messages, at most about TURN_BYTES of
 * reply batches per turn of its event loop, in the order they came.
 *
 * Node hands the main thread every message queued on a worker's port in one turn (at least 1000
 * of them, those that arrive meanwhile included), and taking a reply batch runs its ops' handlers
 * at once: a connection's answers are copied, encoded and written. A pipelined window of MGETs of
 * 1 MiB values reached the main thread as 60-80 such messages, taken in one turn of 600-700 ms, and
 * every other connection (a GET of 100 bytes over HTTP or RESP too) waited for that turn. Here a
 * message that arrives once the turn has taken TURN_BYTES of batches waits, with every message
 * after it (so replies and call results keep their order), and the next turns take them, TURN_BYTES
 * each (setImmediate: the sockets' reads and writes of the turn between run first).
 *
 * Flow: what waits here is bounded by the worker, which holds its large replies back while
 * `holdBytes` of them are untaken (src/worker/reply-batch.ts, "Flow"): each batch of
 * ACKED_REPLY_BYTES or more is acknowledged (`ack`) once taken, not when it arrives, so another
 * connection's small reply waits behind at most about `holdBytes` and a part of large ones.
 * Smaller batches are neither counted against the turn nor acknowledged: the path of small values
 * costs two comparisons per message. Every large batch is acknowledged once taken, whatever became
 * of the connection that asked (closed, or not reading: its handler drops or buffers the reply), so
 * the worker's held backlog, and the control messages that wait behind it (a fence during a
 * failover, src/worker/op-runner.ts), wait only for this thread's turns, never for a client.
 *
 * Owned by one WorkerLink (worker-link.ts), on the main thread.
 */
import { ACKED_REPLY_BYTES } from '../worker/messages.js';

/** TURN_BYTES is about how many bytes of large reply batches one turn of the main thread takes. */
export const TURN_BYTES = 2 * 1024 * 1024;
/**
 * HOLD_BYTES is how many bytes of large reply batches a worker may have sent and not had taken
 * before it holds its further large replies (`reply-flow`).
 */
export const HOLD_BYTES = 4 * 1024 * 1024;

/** ReplyIntake takes a worker's messages in order, a bounded amount of large reply batches per turn. */
export class ReplyIntake<M> {
  private readonly take: (msg: M) => void;
  private readonly bytesOf: (msg: M) => number;
  private readonly ack: (bytes: number) => void;
  /** waiting holds the messages after the turn's budget, oldest first, from `head`. */
  private waiting: (M | undefined)[] = [];
  private head = 0;
  /** turnBytes is the large batches' bytes taken since the last turn began. */
  private turnBytes = 0;
  private turnScheduled = false;
  private readonly nextTurnBound = (): void => {
    this.nextTurn();
  };

  /**
   * `take` runs one message; `bytesOf` is its reply batch's length (0: not a batch); `ack` tells
   * the worker that a batch of ACKED_REPLY_BYTES or more was taken.
   */
  constructor(take: (msg: M) => void, bytesOf: (msg: M) => number, ack: (bytes: number) => void) {
    this.take = take;
    this.bytesOf = bytesOf;
    this.ack = ack;
  }

  /** receive takes `msg` now, or after the messages already waiting once this turn has taken its share. */
  receive(msg: M): void {
    if (this.head < this.waiting.length) {
      this.waiting.push(msg);
      return;
    }
    const bytes = this.bytesOf(msg);
    if (bytes < ACKED_REPLY_BYTES) {
      this.take(msg);
      return;
    }
    if (this.turnBytes >= TURN_BYTES) {
      this.waiting.push(msg);
      this.scheduleTurn();
      return;
    }
    this.takeLarge(msg, bytes);
  }

  /** waitingCount is the number of messages not taken yet. */
  get waitingCount(): number {
    return this.waiting.length - this.head;
  }

  /** clear drops every waiting message (their worker is gone: its ops were failed). */
  clear(): void {
    this.waiting = [];
    this.head = 0;
  }

  /**
   * takeLarge takes a large batch and acknowledges it, whatever its handlers do (one that throws
   * must not leave it untaken for good: the worker's backlog, and the control messages that wait
   * behind it, would wait forever).
   */
  private takeLarge(msg: M, bytes: number): void {
    this.turnBytes += bytes;
    this.scheduleTurn();
    try {
      this.take(msg);
    } finally {
      this.ack(bytes);
    }
  }

  private scheduleTurn(): void {
    if (this.turnScheduled) return;
    this.turnScheduled = true;
    setImmediate(this.nextTurnBound);
  }

  /** nextTurn starts a turn's budget and takes what waits, up to it. */
  private nextTurn(): void {
    this.turnScheduled = false;
    this.turnBytes = 0;
    while (this.head < this.waiting.length) {
      const msg = this.waiting[this.head]!;
      const bytes = this.bytesOf(msg);
      if (bytes >= ACKED_REPLY_BYTES && this.turnBytes >= TURN_BYTES) {
        this.scheduleTurn();
        return;
      }
      this.waiting[this.head++] = undefined;
      if (bytes >= ACKED_REPLY_BYTES) this.takeLarge(msg, bytes);
      else this.take(msg);
    }
    this.clear();
  }
}
