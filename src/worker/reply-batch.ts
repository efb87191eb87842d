/**
 * ReplyBatch: the replies a shard worker owes the main thread for key operations, gathered into one
 * binary reply batch (op-format.ts) and sent as one `replies` message.
 *
 * The replies of an op batch go out together at the end of the batch (`flush`); replies that
 * complete later (a write once durable, a read once the write before it settled, a w=N wait) are
 * gathered until the end of the event-loop turn (`flushSoon`), so one message carries every reply
 * of a group commit. The batch's buffer is copied by postMessage, not transferred: transferring
 * detaches it, and the first ArrayBuffer an isolate detaches turns off V8's assumption that none
 * ever is (its "array buffer detaching protector"), after which every typed array access of the
 * thread checks for it: the worker ran about 12 % more instructions per PUT, the CRC of a record
 * 22 % more (docs/performance.md, "Mirrored replicas: one key hash per record"). Most batches
 * are a few bytes per reply, and copying them costs less; a batch that carries large GET values
 * is copied twice on this thread (`take()`'s exact-size copy, then postMessage's clone). Taking
 * such a batch into a SharedArrayBuffer instead spares the clone's copies (on both threads), but a
 * worker's isolate keeps its SharedArrayBuffer objects, and their memory, until its own next
 * collection, which a worker that allocates little JavaScript runs rarely: the node's RSS stayed
 * 700 MiB up after its non-reading clients were closed (test/e2e/unsent-budget).
 *
 * A batch that reaches FLUSH_BYTES goes out at once, before its op batch ends: the replies of a
 * pipelined window of GETs of 1 MiB values reach the main thread a value or two at a time, so
 * their answers are written (and counted in `server.max_unsent_bytes`) as they are read, rather
 * than all at once when the last was read; and no batch grows to the sum of its values (a window of
 * 64 such GETs built one batch of 64 MiB, in a buffer doubled to 128 MiB, then copied twice). The
 * batch buffer keeps its size up to batch-buffer.ts's SHRINK_BYTES, so large values are copied
 * into memory already in use rather than into a buffer grown anew for each (docs/performance.md,
 * "Large values").
 *
 * Flow: Node hands the main thread every message queued on a worker's port in one turn of its event
 * loop (and those that arrive meanwhile), and the main thread answers each reply as it takes it: a
 * pipelined window of MGETs of 1 MiB values reached it as 60-80 messages taken in one turn of
 * 600-700 ms, and every other connection waited for that turn. So when the main thread asks for it
 * (`reply-flow`, messages.ts) it acknowledges each batch of ACKED_REPLY_BYTES or more once taken
 * (`replies-taken`, src/server/reply-intake.ts, which takes a bounded amount per turn), and the
 * batches posted and not yet taken (`untaken`) hold back the op runner's backlog: a part of it
 * (op-runner.ts, "Parts") ends once `holdBytes` are untaken (`holding`), and the next runs only
 * once fewer are (`whenRoom`). Replies
 * are never held themselves, so their order is the order they were made in; an op batch that
 * arrives meanwhile still runs at once, but only a small part while holding (op-runner.ts,
 * HELD_PART_BYTES), so another client's small GET is not held either: its reply reaches the main
 * thread behind at most `holdBytes` and a part of large ones. Control messages do not release
 * what is held: those that must follow the ops before them wait behind them (op-runner.ts,
 * "Control messages").
 *
 * Owned by one shard worker thread.
 */
import { toDistkvError } from '../errors.js';
import { ACKED_REPLY_BYTES, type FromWorker } from './messages.js';
import { ReplyWriter } from './op-codec.js';
import { type ReplyStatus, ST_ERROR, ST_MISSING, ST_VALUE } from './op-format.js';

/** FLUSH_BYTES is the size at which a reply batch is sent without waiting for the end of its op batch. */
export const FLUSH_BYTES = 1024 * 1024;

/** SendFn delivers a message to the main thread (a structured clone: it transfers nothing, see the module comment). */
export type SendFn = (msg: FromWorker) => void;

/** ReplyBatch gathers op replies and sends them to the main thread in one message per turn. */
export class ReplyBatch {
  private readonly writer = new ReplyWriter();
  private readonly send: SendFn;
  private flushScheduled = false;
  /** sent is the bytes of the reply batches sent so far. */
  private sent = 0;
  /** holdBytes is the untaken bytes that hold the backlog back (0: no flow, nothing is acknowledged). */
  private holdBytes = 0;
  /** untaken is the bytes of acknowledged batches sent and not yet taken by the main thread. */
  private untaken = 0;
  /** waiting is the run that `whenRoom` holds until enough is taken. */
  private waiting: (() => void) | undefined;

  constructor(send: SendFn) {
    this.send = send;
  }

  /** bytes is the bytes of every reply gathered so far, sent or not (op-runner.ts measures its parts by it). */
  get bytes(): number {
    return this.sent + this.writer.len;
  }

  /** add appends the reply of op `id`: a status, a seq and an optional value (copied in). */
  add(id: number, status: ReplyStatus, seq: number, value: Uint8Array | undefined): void {
    this.writer.add(id, status, seq, value);
    if (this.writer.len >= FLUSH_BYTES) this.flush();
  }

  /** value answers a read: the value at `seq`, or missing for undefined or null (a delete). */
  value(id: number, v: Uint8Array | null | undefined, seq: number): void {
    if (v == null) this.writer.add(id, ST_MISSING, 0, undefined);
    else {
      this.writer.add(id, ST_VALUE, seq, v);
      if (this.writer.len >= FLUSH_BYTES) this.flush();
    }
  }

  /** error answers op `id` with `err` as a wire error. */
  error(id: number, err: unknown): void {
    const wire = toDistkvError(err).toWire();
    this.writer.add(id, ST_ERROR, 0, Buffer.from(JSON.stringify(wire)));
  }

  /** flushSoon sends the gathered replies at the end of this event-loop turn. */
  flushSoon(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** flush sends the gathered replies now, if there are any. */
  flush(): void {
    if (this.writer.count === 0) return;
    const { buffer, length } = this.writer.take();
    this.sent += length;
    if (this.holdBytes > 0 && length >= ACKED_REPLY_BYTES) this.untaken += length;
    this.send({ type: 'replies', buffer, length });
  }

  /** flow turns acknowledgements on (`reply-flow`): the backlog waits while `holdBytes` sent are untaken. */
  flow(holdBytes: number): void {
    this.holdBytes = Math.max(0, holdBytes);
  }

  /** holding says whether the main thread has `holdBytes` or more of acknowledged batches untaken. */
  get holding(): boolean {
    return this.holdBytes > 0 && this.untaken >= this.holdBytes;
  }

  /** taken records that the main thread took `bytes` of acknowledged batches (`replies-taken`). */
  taken(bytes: number): void {
    this.untaken = Math.max(0, this.untaken - bytes);
    this.release();
  }

  /**
   * whenRoom runs `fn` in a later turn (setImmediate), once fewer than `holdBytes` sent are untaken;
   * one run waits at a time (the op runner's next part).
   */
  whenRoom(fn: () => void): void {
    this.waiting = fn;
    this.release();
  }

  /** release schedules the waiting run if there is room. */
  private release(): void {
    const fn = this.waiting;
    if (fn === undefined || this.holding) return;
    this.waiting = undefined;
    setImmediate(fn);
  }
}
