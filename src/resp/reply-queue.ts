/**
 * ReplyQueue: keeps a connection's replies in the order its commands arrived, whatever order the
 * shard workers answer in (commands for different workers complete independently).
 *
 * Every command either writes its reply at once (`now()`) or reserves a `Pending` place
 * (`later()`) that a worker reply fills. Replies at the head of the queue are encoded straight
 * into `out`. A worker reply that completes behind an unanswered one keeps its status, seq and a
 * copy of its value, and is encoded into `out` by its format once everything before it is done:
 * pipelined writes to several stores complete out of order (a worker settles its commit log
 * batch store by store), and encoding each into a writer of its own, then copying it, cost two
 * buffers per reply (docs/performance.md, "Pipelined SET"). A reply written by a closure
 * (`completeWith`) or by `now()` behind the head still gets its own small writer.
 *
 * CLIENT REPLY OFF and SKIP (`replyMode`) mute replies: a muted reply keeps its place in the order
 * and in `depth` (so flow control still bounds what the client has in flight) but writes nothing.
 *
 * A `later()` place with a store is a write: its ST_DONE reply is reported to `onWrite` (the
 * connection's record for WAIT) when it arrives, not when it reaches the head. `out` is drained
 * by the connection (one socket write per event-loop turn).
 */
import type { OpHandler } from '../server/worker-pool.js';
import { ST_DONE } from '../worker/op-format.js';
import { type ProtocolVersion, RespWriter } from './resp-format.js';
import type { ErrorCounts } from './resp-metrics.js';

/**
 * Format writes the reply of a worker answer; `value` is a view valid only during the call (or
 * the copy a reply completed behind the head keeps).
 */
export type Format = (w: RespWriter, status: number, seq: number, value: Buffer, p: Pending) => void;

const SMALL_WRITER_BYTES = 256;
const NO_VALUE = Buffer.alloc(0);

/** Pending is a reserved place in the reply order, filled by a worker reply or by `completeWith`. */
export class Pending implements OpHandler {
  ready = false;
  /** muted is set for a reply CLIENT REPLY OFF or SKIP silenced: it is never written. */
  muted = false;
  /** writer holds a reply written behind the head by `now()` or `completeWith`. */
  writer: RespWriter | undefined;
  /** status, seq and value are a worker reply that arrived behind the head, for `format` once at the head. */
  status = 0;
  seq = 0;
  value: Buffer = NO_VALUE;
  readonly proto: ProtocolVersion;
  private readonly queue: ReplyQueue;
  readonly format: Format;
  /** store is the store the command's op went to (for WAIT), or -1. */
  readonly store: number;
  /** onHead runs once every reply reserved before this one is complete (`ReplyQueue.atHead`). */
  onHead: (() => void) | undefined;

  constructor(queue: ReplyQueue, proto: ProtocolVersion, format: Format, store: number) {
    this.queue = queue;
    this.proto = proto;
    this.format = format;
    this.store = store;
  }

  onReply(status: number, seq: number, value: Buffer): void {
    this.queue.complete(this, status, seq, value);
  }
}

/** ReplyQueue orders the replies of one connection. */
export class ReplyQueue {
  readonly out = new RespWriter(2);
  /** outReplies counts the replies in `out`; the connection resets it when it takes `out`. */
  outReplies = 0;
  /**
   * queue[head, tail) are the places reserved and not yet written to `out`; a place is cleared as
   * it is written and the array is kept (not emptied with `length = 0`, which dropped its backing
   * store: at -P 1 every command grew it again).
   */
  private queue: (Pending | undefined)[] = [];
  private head = 0;
  private tail = 0;
  /** held is the weight the multi-key commands still gathering add to `depth` (`hold`). */
  private held = 0;
  /** muted is CLIENT REPLY OFF; skipNext is CLIENT REPLY SKIP (the next reply reserved is muted). */
  private muted = false;
  private skipNext = false;
  private readonly onReady: () => void;
  /** onWrite is told the store and seq of each acknowledged write. */
  readonly onWrite: (store: number, seq: number) => void;

  /** errors counts the error replies of every writer of this queue (resp-metrics.ts), when given. */
  private readonly errors: ErrorCounts | undefined;

  constructor(onReady: () => void, onWrite: (store: number, seq: number) => void, errors?: ErrorCounts) {
    this.onReady = onReady;
    this.onWrite = onWrite;
    this.errors = errors;
    this.out.errors = errors;
  }

  /** writer makes the small writer of one reply written behind the head (or muted). */
  private writer(proto: ProtocolVersion): RespWriter {
    const w = new RespWriter(proto, SMALL_WRITER_BYTES);
    w.errors = this.errors;
    return w;
  }

  /** depth is the number of replies reserved and not yet written to `out`, plus what `hold` added. */
  get depth(): number {
    return this.tail - this.head + this.held;
  }

  /**
   * hold adds `n` to `depth` (negative: takes it back): a multi-key command counts one reply per
   * key in the connection's window while it gathers them (src/resp/gather.ts).
   */
  hold(n: number): void {
    this.held += n;
  }

  /** replyMode applies CLIENT REPLY: "on" writes replies again, "off" mutes them, "skip" mutes the next one. */
  replyMode(mode: 'on' | 'off' | 'skip'): void {
    if (mode === 'on') {
      this.muted = false;
      this.skipNext = false;
    } else if (mode === 'off') this.muted = true;
    else this.skipNext = !this.muted;
  }

  /**
   * replyModeAtReset applies RESET's CLIENT REPLY ON, as redis-server 7.0 does: OFF ends before
   * RESET's reply (`+RESET` is written), but a SKIP given just before still mutes it, being RESET's
   * own (unlike CLIENT REPLY ON, which is answered `+OK` after a SKIP). Call it before reserving
   * RESET's reply.
   */
  replyModeAtReset(): void {
    this.muted = false;
  }

  /** takeMute reports whether the reply being reserved is muted (and uses up a SKIP). */
  private takeMute(): boolean {
    if (!this.skipNext) return this.muted;
    this.skipNext = false;
    return true;
  }

  /** now returns the writer for a reply produced at this point of the order, right away. */
  now(proto: ProtocolVersion): RespWriter {
    // A muted reply is written into a writer nobody reads.
    if (this.takeMute()) return this.writer(proto);
    if (this.head === this.tail) {
      this.out.proto = proto;
      this.outReplies++;
      return this.out;
    }
    const p = new Pending(this, proto, noFormat, -1);
    p.writer = this.writer(proto);
    p.ready = true;
    this.queue[this.tail++] = p;
    return p.writer;
  }

  /** later reserves the next place in the order for a reply that `format` will write. */
  later(proto: ProtocolVersion, format: Format, store = -1): Pending {
    const p = new Pending(this, proto, format, store);
    p.muted = this.takeMute();
    this.queue[this.tail++] = p;
    return p;
  }

  /**
   * atHead runs `run` once every reply reserved before `p` is complete (at once if none is): a
   * command that reads outside the op batches (KEYS) so sees the writes sent before it.
   */
  atHead(p: Pending, run: () => void): void {
    if (this.queue[this.head] === p) run();
    else p.onHead = run;
  }

  /** complete fills `p` with a worker reply (an acknowledged write is reported to `onWrite` at once). */
  complete(p: Pending, status: number, seq: number, value: Buffer): void {
    if (status === ST_DONE && p.store >= 0) this.onWrite(p.store, seq);
    if (this.queue[this.head] === p) {
      if (!p.muted) {
        this.out.proto = p.proto;
        p.format(this.out, status, seq, value, p);
      }
      this.advance();
    } else {
      p.status = status;
      p.seq = seq;
      if (value.length > 0 && !p.muted) p.value = Buffer.from(value);
      p.ready = true;
    }
    this.onReady();
  }

  /** completeWith fills `p` with a reply written by `write`. */
  completeWith(p: Pending, write: (w: RespWriter) => void): void {
    if (this.queue[this.head] === p) {
      if (!p.muted) {
        this.out.proto = p.proto;
        write(this.out);
      }
      this.advance();
    } else {
      if (!p.muted) {
        p.writer = this.writer(p.proto);
        write(p.writer);
      }
      p.ready = true;
    }
    this.onReady();
  }

  /** advance pops the head and moves every ready reply behind it into `out`. */
  private advance(): void {
    if (!this.queue[this.head]!.muted) this.outReplies++;
    this.queue[this.head++] = undefined;
    for (;;) {
      const next = this.queue[this.head];
      if (next?.ready !== true) break;
      if (next.muted) {
        // written nowhere (CLIENT REPLY OFF / SKIP)
      } else if (next.writer !== undefined) this.out.append(next.writer);
      else {
        this.out.proto = next.proto;
        next.format(this.out, next.status, next.seq, next.value, next);
        next.value = NO_VALUE;
      }
      if (!next.muted) this.outReplies++;
      this.queue[this.head++] = undefined;
    }
    if (this.head === this.tail) {
      this.head = 0;
      this.tail = 0;
    } else if (this.head > 1024) {
      this.queue = this.queue.slice(this.head, this.tail);
      this.tail -= this.head;
      this.head = 0;
    }
    const head = this.queue[this.head];
    if (head?.onHead !== undefined) {
      const run = head.onHead;
      head.onHead = undefined;
      run();
    }
  }
}

function noFormat(): void {
  // A reply written through now() is complete when reserved.
}
