/**
 * ShardHost: everything a shard worker does, without the thread.
 *
 * It owns the worker's stores, executes op batches (reads answered in the same reply batch, writes
 * answered when their store reports them durable) and control requests, and publishes each store's
 * last acknowledged seq into the shared `positions` array. `workers/shard-worker.ts` only wires it
 * to `parentPort`; tests drive it directly with an in-memory `send`.
 *
 * Versions, conditions and TTL (docs/api.md, "Versions" and "TTL"): reads report the seq of the
 * key's last write; OP_PUT_EXT/OP_DELETE_EXT check their conditions here, atomically, against the
 * newest write (one still in group commit is waited for first); a leader's expiring writes go to
 * the ExpiryReaper, which logs TYPE_EXPIRE once they expire.
 *
 * Client writes are executed only by a store whose role is leader and that is not fenced; any other
 * gets SWITCHING_LEADER (503, not executed). That holds whatever the main thread's routing tables
 * say while a live map changes roles (docs/failover.md): a write batched before a demotion can no
 * longer land on a store that now follows another leader.
 */
import type { Logger } from 'pino';
import { DistkvError, toDistkvError } from '../errors.js';
import { ReplicationHost } from '../replication/replication-host.js';
import type { FromWorker, StoreSpec, ToWorker } from './messages.js';
import { RequestReader } from './op-codec.js';
import { ReplyBatch, type SendFn } from './reply-batch.js';
import { WorkerStores } from './worker-stores.js';
import { purgeForeignKeys } from './purge.js';
import { ConditionalWrites } from './conditional-writes.js';
import { StoreReads } from './store-reads.js';
import { StoreWrites } from './store-writes.js';
import { ReplicationMessages } from './replication-messages.js';
import { Positions, SLOT_LAST_SEQ } from '../replication/positions.js';
import {
  OP_DELETE,
  OP_DELETE_COUNTED,
  OP_DELETE_EXT,
  OP_GET,
  OP_GET_EXPIRY,
  OP_INCR,
  OP_PUT,
  OP_PUT_EXT,
  OP_SET_IF,
  OP_TXN,
  OP_WAIT,
  SET_IF_NX,
  SET_IF_XX,
  ST_DONE,
  ST_MISSING,
} from './op-format.js';
import { watchRead, watchScan } from '../watch/watch-tap.js';
import { encodeOld, incremented } from './read-modify-write.js';

/** transferOf lists the buffers a control reply transfers: only a snapshot page's (replication-messages.ts). */
function transferOf(reply: FromWorker): ArrayBuffer[] | undefined {
  return reply.type === 'repl-snapshot-result' ? [reply.buffer] : undefined;
}

/** ShardHost runs the stores of one worker. */
export class ShardHost {
  private readonly stores: WorkerStores;
  private readonly replies: ReplyBatch;
  private readonly positions: Positions;
  private replication: ReplicationHost | undefined;
  private readonly send: SendFn;
  private readonly writes: StoreWrites;
  private readonly replicationMessages: ReplicationMessages;
  private readonly reads: StoreReads;
  private readonly conditional: ConditionalWrites;

  private constructor(positions: SharedArrayBuffer, send: SendFn, log: Logger | undefined) {
    this.positions = new Positions(positions);
    this.stores = new WorkerStores(this.positions, log);
    this.send = send;
    this.replies = new ReplyBatch(send);
    this.writes = new StoreWrites(this.stores.hosted, this.positions, this.replies, () =>
      this.replicationHost(),
    );
    this.reads = new StoreReads(this.stores, this.writes, this.replies);
    this.conditional = new ConditionalWrites(this.stores, this.writes, this.replies);
    this.replicationMessages = new ReplicationMessages(this.stores, this.writes, () =>
      this.replicationHost(),
    );
  }

  /**
   * open opens (recovering) every store of `specs` (WorkerStores: a store that cannot open answers
   * every request with UNAVAILABLE naming it and the cause; the other stores open and serve), then
   * starts replication. If replication cannot start, the stores opened are closed again.
   */
  static async open(
    specs: readonly StoreSpec[],
    positions: SharedArrayBuffer,
    send: SendFn,
    log?: Logger,
    worker = 0,
  ): Promise<ShardHost> {
    const host = new ShardHost(positions, send, log);
    try {
      await host.stores.open(specs, worker);
      host.replication = new ReplicationHost(host.stores.hosted, host.positions, log, (spec) =>
        host.stores.reopen(spec),
      );
      host.replication.start();
    } catch (err) {
      await host.close();
      throw err;
    }
    return host;
  }

  /** readyMessage describes the opened stores. */
  readyMessage(): FromWorker {
    return this.stores.readyMessage();
  }

  /** handle executes one message from the main thread. */
  handle(msg: ToWorker): void {
    switch (msg.type) {
      case 'ops':
        this.runOps(msg.buffer, msg.length);
        return;
      case 'scan':
        this.answer(msg.id, () => {
          const store = this.stores.at(msg.store);
          const entries = store.scan(msg.prefix, msg.after ?? undefined, msg.limit).map((e) => ({
            key: Uint8Array.prototype.slice.call(e.key),
            value: Uint8Array.prototype.slice.call(e.value),
            seq: e.seq,
          }));
          return { type: 'scan-result', id: msg.id, ok: true, entries };
        });
        return;
      case 'stats':
        this.answer(msg.id, () => ({
          type: 'stats-result',
          id: msg.id,
          ok: true,
          stores: this.stores.statsReport((index) => this.replication?.statsOf(index)),
        }));
        return;
      case 'purge':
        void this.answerAsync(msg.id, async () => ({
          type: 'purge-result',
          id: msg.id,
          ok: true,
          deleted: await purgeForeignKeys(this.stores.hosted.values()),
        }));
        return;
      case 'close':
        void this.answerAsync(msg.id, async () => {
          await this.close();
          return { type: 'close-result', id: msg.id, ok: true };
        });
        return;
      case 'fence':
        void this.answerAsync(msg.id, () => this.replicationMessages.fence(msg));
        return;
      case 'set-role':
        void this.answerAsync(msg.id, () => this.replicationMessages.setRole(msg));
        return;
      case 'repl-pull':
        void this.answerAsync(msg.id, () => this.replicationMessages.pull(msg));
        return;
      case 'repl-snapshot':
        this.answer(msg.id, () => this.replicationMessages.snapshotPage(msg));
        return;
      case 'seed-next':
        this.answer(msg.id, () => this.replicationMessages.seedNext(msg));
        return;
      case 'seed-ack':
        this.answer(msg.id, () => this.replicationMessages.seedAck(msg));
        return;
      case 'watch-read':
        void this.answerAsync(msg.id, () => watchRead(this.stores.at(msg.store), msg));
        return;
      case 'watch-scan':
        this.answer(msg.id, () => watchScan(this.stores.at(msg.store), msg));
        return;
    }
  }

  /** close stops replication and closes every store (flushing what they hold). */
  async close(): Promise<void> {
    this.writes.close();
    await this.replication?.stop();
    this.replication = undefined;
    await this.stores.close();
  }

  private replicationHost(): ReplicationHost {
    if (this.replication === undefined)
      throw new DistkvError('UNAVAILABLE', 'replication is not running on this worker');
    return this.replication;
  }

  private runOps(buffer: ArrayBuffer, length: number): void {
    const r = new RequestReader(buffer, length);
    while (r.next()) {
      const id = r.id;
      try {
        const store = this.stores.at(r.store);
        switch (r.op) {
          case OP_GET:
            this.reads.get(id, r.store, store, r.key);
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
            const next = incremented(this.writes.current(r.store, store, r.key), r.value);
            this.writes.write(id, r.store, store, r.key, next, r.w, r.timeoutMs, next);
            break;
          }
          case OP_SET_IF: {
            const old = this.writes.current(r.store, store, r.key);
            const flags = r.value[0] ?? 0;
            const skip = (flags & SET_IF_NX && old != null) || (flags & SET_IF_XX && old == null);
            if (skip) this.replies.add(id, ST_MISSING, 0, encodeOld(old));
            else
              this.writes.write(
                id,
                r.store,
                store,
                r.key,
                r.value.subarray(1),
                r.w,
                r.timeoutMs,
                encodeOld(old),
              );
            break;
          }
          case OP_DELETE_COUNTED: {
            const old = this.writes.current(r.store, store, r.key);
            if (old == null)
              this.replies.add(id, ST_DONE, this.positions.get(r.store, SLOT_LAST_SEQ), encodeOld(old));
            else this.writes.write(id, r.store, store, r.key, null, r.w, r.timeoutMs, encodeOld(old));
            break;
          }
          case OP_PUT_EXT:
          case OP_DELETE_EXT:
            this.conditional.write(id, r.store, store, r.op, r.key, r.value, r.w, r.timeoutMs);
            break;
          case OP_TXN:
            this.conditional.txn(id, r.store, store, r.value, r.w, r.timeoutMs);
            break;
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
    }
    this.replies.flush();
  }

  private answer(id: number, fn: () => FromWorker): void {
    try {
      const reply = fn();
      this.send(reply, transferOf(reply));
    } catch (err) {
      this.send({ type: 'error-result', id, ok: false, error: toDistkvError(err).toWire() });
    }
  }

  private async answerAsync(id: number, fn: () => Promise<FromWorker>): Promise<void> {
    try {
      const reply = await fn();
      this.send(reply, transferOf(reply));
    } catch (err) {
      this.send({ type: 'error-result', id, ok: false, error: toDistkvError(err).toWire() });
    }
  }
}
