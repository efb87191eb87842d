/**
 * ShardHost: everything a shard worker does, without the thread. `workers/shard-worker.ts` only
 * wires it to `parentPort`; `distkv serve --inline` and the tests call it directly with their own
 * `send`.
 *
 * It opens the worker's stores and starts replication on them, then dispatches each message from
 * the main thread (messages.ts) to the module of its concept:
 *  - `ops`: a request batch of key operations, op-runner.ts (reads store-reads.ts, writes
 *    store-writes.ts, conditional writes conditional-writes.ts), answered in reply batches
 *    (reply-batch.ts);
 *  - `scan`, `stats`, `purge`, `close`: the stores themselves (worker-stores.ts, purge.ts);
 *  - `fence`, `set-role`, `repl-pull`, `repl-snapshot`, `seed-next`, `seed-ack`, `end-pulls`:
 *    replication, failover and the stop's end of long polls (replication-messages.ts over the
 *    worker's ReplicationHost);
 *  - `watch-read`, `watch-polls`, `watch-scan`: watch (src/watch/watch-tap.ts), and `end-watch`,
 *    the stop's end of the feeds' long polls (src/util/stop-wakes.ts).
 * Every message but `ops` carries an id and gets exactly one reply with it: its result, or an
 * `error-result` with the error it threw. The messages it sends unasked are `pull-refused`, a
 * replica's pull its leader's node refused (for the main thread's peer check), and, while the
 * stores open, `replay-progress`: how much of the commit log has been replayed. Each store's last acknowledged seq is published into the
 * shared `positions` array (src/replication/positions.ts).
 */
import type { Logger } from 'pino';
import { DistkvError, toDistkvError } from '../errors.js';
import { Positions } from '../replication/positions.js';
import { ReplicationHost } from '../replication/replication-host.js';
import { StopWakes } from '../util/stop-wakes.js';
import { watchPolls, watchRead, watchScan } from '../watch/watch-tap.js';
import { expiryCensus } from './expiry-census.js';
import type { FromWorker, StoreSpec, ToWorker } from './messages.js';
import { OpRunner } from './op-runner.js';
import { RealVfs } from '../storage/real-vfs.js';
import type { Vfs } from '../storage/vfs.js';
import { scanOwnSlots, type SlotRange } from '../storage/own-slots.js';
import { scanPageFull } from '../storage/store.js';
import { purgeForeignKeys } from './purge.js';
import { ReplicationMessages } from './replication-messages.js';
import { ReplyBatch, type SendFn } from './reply-batch.js';
import { StoreWrites } from './store-writes.js';
import { WorkerStores } from './worker-stores.js';

/** Control is a control message: one with an id, answered once. */
type Control = Exclude<ToWorker, { type: 'ops' } | { type: 'reply-flow' } | { type: 'replies-taken' }>;

/**
 * ORDERED are the control messages that must follow every op sent before them, and come before every
 * op sent after them: they read the store's keys (`scan`), write through the write path (`purge`),
 * fence or turn a store over (`fence`, `set-role`: the seq a fence reports covers the writes
 * accepted before it, and a write after it is refused), or settle the writes accepted before the
 * stop (`end-pulls`, `close`). The others read the log, positions or counters, which an op still in
 * the backlog has not reached: a pull or a watch poll answered before it sees its write in the next;
 * a watch's snapshot (`watch-scan`) names its seq, and the watch's events follow from there.
 */
const ORDERED: ReadonlySet<Control['type']> = new Set([
  'scan',
  'purge',
  'fence',
  'set-role',
  'end-pulls',
  'close',
]);

/** ShardHost runs the stores of one worker. */
export class ShardHost {
  private readonly stores: WorkerStores;
  private readonly replies: ReplyBatch;
  private readonly positions: Positions;
  private replication: ReplicationHost | undefined;
  private readonly send: SendFn;
  private readonly writes: StoreWrites;
  private readonly replicationMessages: ReplicationMessages;
  private readonly ops: OpRunner;
  private readonly watchEnd = new StopWakes();

  private constructor(positions: SharedArrayBuffer, send: SendFn, log: Logger | undefined) {
    this.positions = new Positions(positions);
    this.stores = new WorkerStores(this.positions, log);
    this.send = send;
    this.replies = new ReplyBatch(send);
    this.writes = new StoreWrites(
      this.stores.hosted,
      this.positions,
      this.replies,
      () => this.replicationHost(),
      log,
    );
    this.ops = new OpRunner(this.stores, this.writes, this.replies);
    this.replicationMessages = new ReplicationMessages(this.stores, this.writes, () =>
      this.replicationHost(),
    );
  }

  /**
   * open opens (recovering) every store of `specs` (WorkerStores: a store that cannot open answers
   * every request with UNAVAILABLE naming it and the cause; the other stores open and serve), then
   * starts replication. If replication cannot start, the stores opened are closed again. `vfs` is
   * the file system of the lsm stores' commit log and runs (tests give a FaultyVfs, which loses
   * power; LMDB is always on the real one).
   */
  static async open(
    specs: readonly StoreSpec[],
    positions: SharedArrayBuffer,
    send: SendFn,
    log?: Logger,
    worker = 0,
    vfs: Vfs = new RealVfs(),
  ): Promise<ShardHost> {
    const host = new ShardHost(positions, send, log);
    try {
      // The replay's progress goes to the main thread as it happens (the starting node shows it).
      await host.stores.open(specs, worker, vfs, (r) => {
        send({ type: 'replay-progress', ...r });
      });
      host.replication = new ReplicationHost(
        host.stores.hosted,
        host.positions,
        log,
        (spec) => host.stores.reopen(spec),
        (leader, code) => {
          host.send({ type: 'pull-refused', leader, code });
        },
      );
      host.replication.start();
      // Leaders' expiries written before this start: the reaper never saw those writes.
      for (const index of host.stores.hosted.keys()) host.writes.learnExpiries(index);
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

  /**
   * handle executes one message from the main thread. A control message that reads or changes what
   * the ops before it wrote (ORDERED) waits for the ops still in the op runner's backlog
   * (op-runner.ts, "Control messages"), and the ops after it wait for it; `close` runs the whole
   * backlog at once; the others run at once.
   */
  handle(msg: ToWorker): void {
    if (msg.type === 'ops') {
      this.ops.run(msg.buffer, msg.length);
      return;
    }
    // Flow control of the reply batches (reply-batch.ts, "Flow"): not control calls, nothing to run first.
    if (msg.type === 'replies-taken') {
      this.replies.taken(msg.bytes);
      return;
    }
    if (msg.type === 'reply-flow') {
      this.replies.flow(msg.holdBytes);
      return;
    }
    if (msg.type === 'close') this.ops.finish();
    if (ORDERED.has(msg.type)) {
      this.ops.after(() => {
        this.control(msg);
      });
    } else this.control(msg);
  }

  /** control executes one control message: exactly one reply with its id. */
  private control(msg: Control): void {
    switch (msg.type) {
      case 'scan':
        this.answer(msg.id, () => this.scan(msg));
        return;
      case 'stats':
        this.answer(msg.id, () => ({
          type: 'stats-result',
          id: msg.id,
          ok: true,
          stores: this.stores.statsReport((index) => this.replication?.statsOf(index)),
        }));
        return;
      case 'expiry-census':
        this.answer(msg.id, () => {
          const hosted = this.stores.hosted.get(msg.store);
          return expiryCensus(hosted?.store, hosted?.spec.shard ?? { first: 0, last: -1 }, msg);
        });
        return;
      case 'purge':
        void this.answerAsync(msg.id, async () => ({
          type: 'purge-result',
          id: msg.id,
          ok: true,
          deleted: await purgeForeignKeys(this.stores.hosted, this.writes),
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
      case 'end-pulls':
        void this.answerAsync(msg.id, () => this.replicationMessages.endPulls(msg));
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
        void this.answerAsync(msg.id, () => watchRead(this.stores.at(msg.store), msg, this.watchEnd));
        return;
      case 'watch-polls':
        void this.answerAsync(msg.id, () => watchPolls((index) => this.stores.at(index), msg, this.watchEnd));
        return;
      case 'end-watch':
        this.watchEnd.end();
        this.send({ type: 'end-watch-result', id: msg.id, ok: true });
        return;
      case 'watch-scan':
        this.answer(msg.id, () => watchScan(this.stores.at(msg.store), this.rangeOf(msg.store), msg));
        return;
    }
  }

  /** close runs the ops still waiting in the backlog, stops replication and closes every store (flushing what they hold). */
  async close(): Promise<void> {
    this.ops.finish();
    this.writes.close();
    await this.replication?.stop();
    this.replication = undefined;
    await this.stores.close();
  }

  /** replicationHost is the worker's ReplicationHost, or throws UNAVAILABLE when it is not running. */
  private replicationHost(): ReplicationHost {
    if (this.replication === undefined)
      throw new DistkvError('UNAVAILABLE', 'replication is not running on this worker');
    return this.replication;
  }

  /** scan answers a page of a store's live keys under a prefix (of its shard's slots: src/storage/own-slots.ts), bounded in entries and bytes, copied out of the store. */
  private scan(msg: Extract<ToWorker, { type: 'scan' }>): FromWorker {
    const store = this.stores.at(msg.store);
    const entries = scanOwnSlots(
      store,
      this.rangeOf(msg.store),
      msg.prefix,
      msg.after ?? undefined,
      msg.limit,
      msg.maxBytes,
    ).map((e) => ({
      key: Uint8Array.prototype.slice.call(e.key),
      value: Uint8Array.prototype.slice.call(e.value),
      seq: e.seq,
    }));
    const more = scanPageFull(entries, msg.limit, msg.maxBytes);
    return { type: 'scan-result', id: msg.id, ok: true, entries, more };
  }

  /** rangeOf is the slot range of the shard of store `index` (hosted: `at` answered for it). */
  private rangeOf(index: number): SlotRange {
    return this.stores.hosted.get(index)!.spec.shard;
  }

  /** answer sends `fn`'s reply, or the error it throws as an error-result for `id`. */
  private answer(id: number, fn: () => FromWorker): void {
    try {
      const reply = fn();
      this.send(reply);
    } catch (err) {
      this.send({ type: 'error-result', id, ok: false, error: toDistkvError(err).toWire() });
    }
  }

  /** answerAsync is `answer` for a reply that is awaited. */
  private async answerAsync(id: number, fn: () => Promise<FromWorker>): Promise<void> {
    try {
      const reply = await fn();
      this.send(reply);
    } catch (err) {
      this.send({ type: 'error-result', id, ok: false, error: toDistkvError(err).toWire() });
    }
  }
}
