/**
 * OpRunner: executes the key operations of one request batch (op-format.ts) on a worker's stores.
 *
 * Each op goes to its concept: point reads to store-reads.ts, plain and read-modify-write ops
 * (PUT, DELETE, INCR, SET_IF, DELETE_COUNTED) to the write path store-writes.ts, edits (APPEND,
 * SETRANGE, INCRBYFLOAT, GETEX) to edits.ts, conditional writes and transactions to
 * conditional-writes.ts, and OP_WAIT to the replica acks. The
 * read-modify-write ops read the key's newest value, writes in flight included, and issue their
 * write in the same synchronous step, so the ops of one batch on one key chain in order. An op
 * that fails (an unknown store or op, a refused write) is answered with its error; the others run.
 * Replies available at once leave together when the batch ends; the rest as they complete.
 * A conditional write that must wait for a write in flight gates its key until it has run
 * (key-gates.ts): later ops on that key queue behind it, copied, and run in arrival order.
 *
 * Parts: a batch answers at most about PART_BYTES of replies in one turn of the worker's event loop;
 * the rest of its ops (copied) wait in the backlog (op-backlog.ts) for the next turn, and so on.
 * The worker runs one message at a time: a client's window of GETs of 1 MiB values (up to 63 of
 * them, src/server/reply-window.ts; several clients' windows share one batch) was one synchronous
 * run of hundreds of milliseconds on a loaded machine (each value copied three times into fresh
 * memory: the reply batch, `take()`'s exact-size copy, postMessage's clone), and another client's
 * small GET to the same worker waited behind all of it: 0.1-1 s. Between parts, the batches that
 * arrived meanwhile run: their ops on keys with nothing in the backlog at once, the others behind
 * it, so the ops of one key still run in arrival order.
 *
 * Flow: a part of the backlog also ends, and the next waits, while the main thread has not yet taken
 * the large reply batches already sent (reply-batch.ts, "Flow", `holding`); and a batch that
 * arrives while it holds answers only HELD_PART_BYTES (and the value that passes it) before the
 * rest of its ops join the backlog. Each batch used to run a whole part whatever the flow, so with
 * many connections sending MGETs of large values every batch added 4 MiB untaken, and the bound was
 * none. The main thread sends at most one batch per turn and takes about 2 MiB of large replies per
 * turn (src/server/reply-intake.ts), more than a batch that arrives while holding can add.
 *
 * Control messages: one that must follow the ops sent before it (shard-host.ts, `ORDERED`: a scan
 * must see a pipelined PUT sent before it, a fence must cover the writes accepted before it) waits
 * behind them in the backlog (`after`), and runs when the drain reaches it, in parts and with the
 * flow like the ops; the ops that arrive after it wait behind it. The others (replication pulls,
 * watch polls, stats) read the log or counters, not what an op in the backlog would change, and run
 * at once without touching the backlog: running the whole backlog before each, as before, meant a
 * replica's pull every few milliseconds released every held reply, and the flow never held. The
 * stop (`finish`) runs the whole backlog at once: it must not wait for a main thread that may take
 * nothing more (it answers what it takes, and drops the rest when it ends the thread).
 *
 * Owned by one shard worker thread; the batch's views are valid only until `run` returns.
 */
import { DistkvError } from '../errors.js';
import { ConditionalWrites } from './conditional-writes.js';
import { newestOf, runEdit } from './edits.js';
import { KeyGates } from './key-gates.js';
import { type Call, type Op, OpBacklog } from './op-backlog.js';
import { RequestReader } from './op-codec.js';
import {
  OP_DELETE,
  OP_DELETE_COUNTED,
  COUNTED_FOUND_ONLY,
  OP_DELETE_EXT,
  OP_EDIT,
  OP_GET,
  OP_GET_EXPIRY,
  OP_INCR,
  OP_PUT,
  OP_PUT_EXT,
  OP_SET_IF,
  OP_TXN,
  OP_WAIT,
  decodeTxn,
  decodeSetIf,
  SET_IF_EXPIRES,
  SET_IF_KEEP_TTL,
  SET_IF_NO_OLD,
  SET_IF_NX,
  SET_IF_XX,
  ST_DONE,
  ST_MISSING,
} from './op-format.js';
import { encodeOld, incremented } from './read-modify-write.js';
import type { ReplyBatch } from './reply-batch.js';
import { StoreReads } from './store-reads.js';
import type { StoreWrites } from './store-writes.js';
import type { WorkerStores } from './worker-stores.js';

/** NO_OLD is the value of an OP_SET_IF reply with SET_IF_NO_OLD (empty: never written into). */
const NO_OLD = Buffer.alloc(0);

/**
 * PART_BYTES is about how many reply bytes a batch answers in one turn before the rest of it waits
 * for the next (a value past it ends the part): four GETs of 1 MiB values, a few milliseconds.
 */
export const PART_BYTES = 4 * 1024 * 1024;
/**
 * HELD_PART_BYTES is about how many reply bytes a batch that arrives while the flow holds answers at
 * once (a value past it ends the part): a few thousand small replies, so another client's small GET
 * still runs at once, while a batch of large values adds at most one of them to what is untaken.
 */
export const HELD_PART_BYTES = 256 * 1024;

/** OpRunner executes request batches on one worker's stores. */
export class OpRunner {
  private readonly stores: WorkerStores;
  private readonly writes: StoreWrites;
  private readonly replies: ReplyBatch;
  private readonly reads: StoreReads;
  private readonly conditional: ConditionalWrites;
  private readonly gates = new KeyGates();
  private readonly backlog = new OpBacklog();
  private drainScheduled = false;
  private readonly drainBound = (): void => {
    this.drain();
  };

  constructor(stores: WorkerStores, writes: StoreWrites, replies: ReplyBatch) {
    this.stores = stores;
    this.writes = writes;
    this.replies = replies;
    this.reads = new StoreReads(stores, writes, replies);
    this.conditional = new ConditionalWrites(stores, writes, replies);
  }

  /**
   * run executes one request batch, up to PART_BYTES of replies, or HELD_PART_BYTES while the flow
   * holds (the rest waits in the backlog); an op on a key with an op in the backlog, or behind a
   * waiting control message, waits there too. The replies of its reads and refusals go out at its end.
   */
  run(buffer: ArrayBuffer, length: number): void {
    const r = new RequestReader(buffer, length);
    const start = this.replies.bytes;
    while (r.next()) {
      if (this.backlog.size > 0 && this.backlog.blocks(r.store, this.keysOf(r, false))) this.defer(r);
      else this.runOne(r);
      if (this.partDone(start)) {
        while (r.next()) this.defer(r);
      }
    }
    this.replies.flush();
    this.drainSoon();
  }

  /**
   * after runs `call` (a control message) once every op that arrived before it has run: now when the
   * backlog is empty, else when its drain reaches it; the ops that arrive meanwhile wait behind it.
   */
  after(call: Call): void {
    if (this.backlog.size === 0) {
      call();
      return;
    }
    this.backlog.pushCall(call);
    this.drainSoon();
  }

  /** finish runs everything in the backlog now, whatever the flow (the stop). */
  finish(): void {
    if (this.backlog.size === 0) return;
    for (let e = this.backlog.shift(); e !== undefined; e = this.backlog.shift()) this.runEntry(e);
    this.replies.flush();
  }

  /** partDone says whether a part that began at reply bytes `start` has answered its share. */
  private partDone(start: number): boolean {
    const made = this.replies.bytes - start;
    return made >= PART_BYTES || (made >= HELD_PART_BYTES && this.replies.holding);
  }

  /** drain runs the next part of the backlog (a turn after the part before). */
  private drain(): void {
    this.drainScheduled = false;
    const start = this.replies.bytes;
    for (let e = this.backlog.shift(); e !== undefined; e = this.backlog.shift()) {
      this.runEntry(e);
      if (this.replies.bytes - start >= PART_BYTES || this.replies.holding) break;
    }
    this.replies.flush();
    this.drainSoon();
  }

  /** runEntry runs an op of the backlog, or a control message once the replies before it are sent. */
  private runEntry(e: Op | Call): void {
    if (typeof e === 'function') {
      this.replies.flush();
      e();
    } else this.runOne(e);
  }

  /** drainSoon runs the backlog's next part in a later turn, once the main thread took enough (reply-batch.ts, "Flow"). */
  private drainSoon(): void {
    if (this.backlog.size === 0 || this.drainScheduled) return;
    this.drainScheduled = true;
    this.replies.whenRoom(this.drainBound);
  }

  /** defer puts a copy of `r` in the backlog. */
  private defer(r: Op): void {
    const op: Op = {
      id: r.id,
      op: r.op,
      store: r.store,
      key: Buffer.from(r.key),
      value: Buffer.from(r.value),
      w: r.w,
      timeoutMs: r.timeoutMs,
    };
    this.backlog.push(op, this.keysOf(op, false));
  }

  /** runOne runs `r` now, or behind the gates of its keys (key-gates.ts). */
  private runOne(r: Op): void {
    if (this.gates.empty) {
      const ran = this.exec(r);
      if (ran !== undefined) this.gate(r, ran);
    } else this.queue(r);
  }

  /** keysOf returns the keys an op reads or writes (copies when `copy`). */
  private keysOf(r: Op, copy: boolean): Buffer[] {
    if (r.op === OP_WAIT) return [];
    if (r.op !== OP_TXN) return [copy ? Buffer.from(r.key) : r.key];
    try {
      return decodeTxn(r.value).map((s) => Buffer.from(s.key));
    } catch {
      return []; // malformed: exec answers it with its error
    }
  }

  /** gate holds the keys of `r`, an op that waits, until it has run. */
  private gate(r: Op, ran: Promise<void>): void {
    for (const k of this.keysOf(r, true)) this.gates.hold(r.store, k, ran);
  }

  /** queue runs `r` now if none of its keys is gated, else (a copy of it) behind their gates. */
  private queue(r: Op): void {
    const keys = this.keysOf(r, false);
    const waits = keys.flatMap((k) => this.gates.of(r.store, k) ?? []);
    if (waits.length === 0) {
      const ran = this.exec(r);
      if (ran !== undefined) this.gate(r, ran);
      return;
    }
    const op: Op = { ...r, key: Buffer.from(r.key), value: Buffer.from(r.value) };
    const ran = Promise.all(waits).then(() => {
      const again = this.exec(op);
      this.replies.flushSoon();
      return again;
    });
    this.gate(op, ran);
  }

  /** exec runs one op; it returns the promise of its having run when it waits (a conditional write). */
  private exec(r: Op): Promise<void> | undefined {
    const id = r.id;
    try {
      const store = this.stores.at(r.store);
      switch (r.op) {
        case OP_GET:
          this.reads.get(id, r.store, store, r.key, r.w, r.timeoutMs);
          break;
        case OP_PUT:
          this.writes.write(id, r.store, store, r.key, r.value, r.w, r.timeoutMs, undefined);
          break;
        case OP_DELETE: {
          // Whether the key existed, as a read at this instant sees it (writes in flight included):
          // the reply is ST_DONE if it did, ST_MISSING if not (X-Distkv-Existed, docs/api.md).
          const existed = this.writes.current(r.store, store, r.key) != null;
          this.writes.write(
            id,
            r.store,
            store,
            r.key,
            null,
            r.w,
            r.timeoutMs,
            undefined,
            existed ? ST_DONE : ST_MISSING,
          );
          break;
        }
        case OP_INCR: {
          // The key keeps its expiry, as Redis's INCR keeps the TTL (a rate limiter's window).
          const cur = newestOf(this.writes, r.store, store, r.key);
          let next: Buffer;
          try {
            next = incremented(cur?.value, r.value);
          } catch (err) {
            this.writes.refuseRead(id, r.store, r.key, err);
            break;
          }
          this.writes.write(
            id,
            r.store,
            store,
            r.key,
            next,
            r.w,
            r.timeoutMs,
            next,
            ST_DONE,
            cur?.expiresAtMs,
          );
          break;
        }
        case OP_EDIT:
          runEdit(this.writes, r, store);
          break;
        case OP_SET_IF: {
          const old = this.writes.current(r.store, store, r.key);
          const { flags, expiresAtMs, value } = decodeSetIf(r.value);
          const skip = (flags & SET_IF_NX && old != null) || (flags & SET_IF_XX && old == null);
          const reply = flags & SET_IF_NO_OLD ? NO_OLD : encodeOld(old);
          if (skip) {
            this.writes.answerRead(id, r.store, r.key, ST_MISSING, 0, reply);
            break;
          }
          // KEEPTTL keeps the newest expiry (a write in flight's too); a time already past deletes.
          const at =
            flags & SET_IF_KEEP_TTL
              ? (newestOf(this.writes, r.store, store, r.key)?.expiresAtMs ?? 0)
              : expiresAtMs;
          const gone = flags & SET_IF_EXPIRES && at <= Date.now();
          this.writes.write(
            id,
            r.store,
            store,
            r.key,
            gone ? null : value,
            r.w,
            r.timeoutMs,
            reply,
            ST_DONE,
            gone ? 0 : at,
          );
          break;
        }
        case OP_DELETE_COUNTED: {
          const old = this.writes.current(r.store, store, r.key);
          if (old == null) this.writes.answerRead(id, r.store, r.key, ST_DONE, undefined, encodeOld(old));
          else {
            // DEL asks only whether the key was there: its reply stays small however many keys it names.
            const reply = r.value.length === 0 ? encodeOld(old) : COUNTED_FOUND_ONLY;
            this.writes.write(id, r.store, store, r.key, null, r.w, r.timeoutMs, reply);
          }
          break;
        }
        case OP_PUT_EXT:
        case OP_DELETE_EXT:
          return this.conditional.write(id, r.store, store, r.op, r.key, r.value, r.w, r.timeoutMs);
        case OP_TXN:
          return this.conditional.txn(id, r.store, store, r.value, r.w, r.timeoutMs);
        case OP_GET_EXPIRY:
          this.reads.expiry(id, r.store, Buffer.from(r.key));
          break;
        case OP_WAIT:
          this.writes.waitReplicas(id, r.store, r.value.readDoubleLE(0), r.w, r.timeoutMs);
          break;
        default:
          throw new DistkvError('BAD_REQUEST', `unknown op ${r.op}`);
      }
    } catch (err) {
      this.replies.error(id, err);
    }
    return undefined;
  }
}
