/**
 * Gather: the reply of a multi-key command (MGET, EXISTS and TOUCH, DEL and UNLINK, MSET): one op
 * per key, all on one store (key-route.ts), the reply written when the last one answers.
 *
 * Bounds (docs/resp.md, "What one command can make the node hold"): a shard worker builds the
 * replies of a batch together and the listener copies each value it keeps, so a command that reads
 * (MGET, EXISTS, DEL: a counted delete answers the old value) submits its ops in rounds of at most
 * `roundKeys` keys (as many max-size values as a connection's window may hold, WINDOW_CAP_BYTES),
 * each round once the one before answered: an MGET of a million keys of 1 MiB never has more than
 * one round of values built at once. MGET keeps its values until the reply is written; past
 * `maxReplyBytes` of them (half the process's budget) it submits no more rounds and answers an error instead of the values.
 * What it keeps counts in the connection's share of the process's budget (`noteGathered`,
 * `server.max_unsent_bytes`). MSET submits every key at once: its values are already in the
 * command (the parser bounds its size) and it is one group commit.
 *
 * Order: while it gathers, the command weighs its key count in the connection's window
 * (ReplyQueue.hold), so a command of more keys than a round stops parsing until its last round
 * answered; no later command of the connection is submitted between two rounds.
 *
 * Copies: a value is copied out of its reply (`kept`), whose bytes last only during the call
 * (OpHandler). A worker thread's reply batch is cloned for the main thread and nothing writes it
 * again, so a view of it would be safe there (not inline), but it was measured slower: kept as
 * views until the reply was written, the batches made the node collect half as often and the
 * main thread fault in fresh memory most rounds (an MGET of 63 values of 1 MiB: 120-320 ms of its
 * CPU per round, against 40-70 ms for the copies, which reused memory already mapped).
 */
import type { OpHandler } from '../server/worker-pool.js';
import { ST_DONE, ST_ERROR, ST_VALUE } from '../worker/op-format.js';
import type { LocalTarget } from './key-route.js';
import type { Pending } from './reply-queue.js';
import type { RespConnection } from './resp-connection.js';
import type { RespWriter } from './resp-format.js';
import { errorText } from './worker-reply.js';

/** MAX_REPLY_BYTES bounds the values of one MGET reply (Redis's largest string, proto-max-bulk-len); half of `server.max_unsent_bytes` may bound it lower. */
export const MAX_REPLY_BYTES = 512 * 1024 * 1024;

/**
 * Keep says what a Gather keeps of each answer: the value (MGET), only that there was one
 * (EXISTS, MSET), or only that a counted delete's old value was there (DEL).
 */
export type Keep = 'value' | 'found' | 'old';

/** SubmitOne submits the op of the command's `i`th key with `handler`. */
export type SubmitOne = (c: RespConnection, t: LocalTarget, i: number, handler: OpHandler) => void;

/** Gather collects the answers of one multi-key command's ops. */
export class Gather {
  /** values holds, per key, the value kept (Keep 'value'), FOUND (the others), or undefined (none). */
  readonly values: (Buffer | undefined)[];
  error: string | undefined;
  private readonly c: RespConnection;
  private readonly t: LocalTarget;
  private readonly pending: Pending;
  private readonly keep: Keep;
  private readonly submitOne: SubmitOne;
  private readonly write: (w: RespWriter, g: Gather) => void;
  private readonly roundKeys: number;
  private readonly maxBytes: number;
  /** writes: the ops write (DEL, MSET), so a worker's UNAVAILABLE is not a retry (worker-reply.ts). */
  private readonly writes: boolean;
  /** next is the first key not submitted yet; inRound counts the answers the current round still lacks. */
  private next = 0;
  private inRound = 0;
  private bytes = 0;

  /**
   * `n` keys; `roundKeys` 0 submits them all at once (MSET). `maxBytes` bounds the kept values
   * (Keep 'value'); past it the reply is an error.
   */
  constructor(
    c: RespConnection,
    t: LocalTarget,
    n: number,
    keep: Keep,
    submitOne: SubmitOne,
    write: (w: RespWriter, g: Gather) => void,
    roundKeys: number,
    writes = false,
  ) {
    this.writes = writes;
    this.c = c;
    this.t = t;
    this.values = new Array<Buffer | undefined>(n);
    this.keep = keep;
    this.submitOne = submitOne;
    this.write = write;
    this.roundKeys = roundKeys > 0 ? roundKeys : n;
    this.maxBytes = maxReplyBytes(c);
    this.pending = c.queue.later(c.proto, noFormat, t.store);
    c.queue.hold(n - 1);
    this.round();
  }

  /** round submits the next `roundKeys` keys. */
  private round(): void {
    const end = Math.min(this.values.length, this.next + this.roundKeys);
    this.inRound = end - this.next;
    // next moves first: an op refused at once (its worker not running) answers inside submitOne.
    while (this.next < end) {
      const i = this.next++;
      this.submitOne(this.c, this.t, i, this.part(i));
    }
  }

  private part(i: number): OpHandler {
    return {
      onReply: (status, seq, value) => {
        this.answer(i, status, seq, value);
      },
    };
  }

  private answer(i: number, status: number, seq: number, value: Buffer): void {
    if (status === ST_ERROR) this.error ??= errorText(value, this.writes);
    else if (status === ST_VALUE || (status === ST_DONE && value.length > 0)) {
      if (this.keep === 'value') {
        if (this.error === undefined) this.values[i] = this.kept(value);
      } else if (this.keep === 'found' || value[0] === 1) this.values[i] = FOUND;
    }
    if (status === ST_DONE) this.c.noteWrite(this.pending.store, seq);
    if (--this.inRound > 0) return;
    // A connection that closed gets no more rounds (its reply would be discarded).
    if (this.error === undefined && this.next < this.values.length && !this.c.gone) {
      this.round();
      return;
    }
    this.c.noteGathered(-this.bytes);
    this.bytes = 0;
    this.c.queue.hold(1 - this.values.length);
    this.c.queue.completeWith(this.pending, (w) => {
      if (this.error !== undefined) w.error(this.error);
      else this.write(w, this);
    });
  }

  /** kept copies a value (the worker's view lasts only during the call) unless the reply would pass its bound. */
  private kept(value: Buffer): Buffer | undefined {
    if (this.bytes + value.length <= this.maxBytes) {
      this.bytes += value.length;
      this.c.noteGathered(value.length);
      return Buffer.from(value);
    }
    this.error = `ERR reply of more than ${this.maxBytes} bytes (server.max_unsent_bytes, at most ${MAX_REPLY_BYTES}); ask for fewer keys`;
    this.values.fill(undefined);
    // The values go now; the keys' weight in the window goes once the round answered (`answer`).
    this.c.noteGathered(-this.bytes);
    this.bytes = 0;
    return undefined;
  }
}

const FOUND = Buffer.alloc(0);

function noFormat(): void {
  // A Gather's reply is written by completeWith.
}

/**
 * maxReplyBytes is the most one reply of `c`'s may hold: MAX_REPLY_BYTES, or half the process's
 * unsent budget when lower. The gathered values count in the budget; bounded at the whole budget,
 * a reply that reached it exactly plus the connection's other unsent bytes (14 bytes were enough)
 * passed it, and the budget closed the connection instead of the error being answered
 * (a probe of resp-bounds.test.ts's 1000 x 1 MiB MGET was closed so in 3 runs of 4).
 */
function maxReplyBytes(c: RespConnection): number {
  const half = Math.floor(c.ctx.config.server.max_unsent_bytes / 2);
  return half > 0 && half < MAX_REPLY_BYTES ? half : MAX_REPLY_BYTES;
}
