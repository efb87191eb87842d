/**
 * WorkerPool: the main thread's side of the shard workers, one WorkerLink each (worker-link.ts:
 * batching a turn's ops, matching replies, control calls, a crashed worker's restart).
 *
 * The pool routes each op and call to its worker's link, fans calls out to all of them, and holds
 * what the links share: the stores' published positions (a SharedArrayBuffer every worker writes)
 * and the stores that could not open. A store that could not open does not stop the others: its
 * worker reports it in its ready message (`storeFailure`), and it answers every request with
 * UNAVAILABLE naming it and the cause. A worker's replica whose pull its leader's node refused says
 * so (`pull-refused`), for the peer check: a node that refuses with CONFIG_MISMATCH is asked for
 * its config at once. At the stop, `endPulls` has the workers answer their leaders' parked pulls
 * (src/util/stop-wakes.ts), and `endWatch` their watch feeds' parked polls (src/util/stop-wakes.ts).
 * While a worker opens its stores it reports how much of its commit log it has replayed
 * (`replayProgress`, for the starting node's /cluster and RESP INFO).
 */
import type { Logger } from 'pino';
import type { WireError } from '../errors.js';
import type { StoreSpec } from '../worker/messages.js';
import {
  type LocalErrorCode,
  localErrorOf,
  Positions,
  SLOT_LAST_SEQ,
  SLOT_LAST_WRITE_SEQ,
  SLOT_STORE_ERROR,
} from '../replication/positions.js';
import type { OnPullRefused } from '../replication/source.js';
import type { OpCode } from '../worker/op-format.js';
import { type ReplayProgressOfNode, replayProgressOf } from './start-progress.js';
import { type CallMessage, type CallResult, INLINE, type OpHandler, WorkerLink } from './worker-link.js';

export { type CallMessage, INLINE, type OpHandler } from './worker-link.js';

/** WorkerPool owns all shard workers of this process. */
export class WorkerPool {
  private readonly links: WorkerLink[];
  /** positions are the stores' published seqs and replica states (src/replication/positions.ts). */
  readonly positions: Positions;
  /** inline says the stores run on the main thread (`INLINE`), not on worker threads. */
  readonly inline: boolean;
  /** failures maps each store that could not open to the error it answers with (updated when a worker starts). */
  private readonly failures = new Map<number, WireError>();

  /** `refused` hears the refusals of the workers' replicas' pulls (OnPullRefused). */
  constructor(
    storesByWorker: StoreSpec[][],
    entry: URL | typeof INLINE,
    log: Logger,
    logLevel: string,
    refused?: OnPullRefused,
  ) {
    const storeCount = storesByWorker.reduce((n, s) => n + s.length, 0);
    const sab = new SharedArrayBuffer(Positions.bytesFor(storeCount));
    this.positions = new Positions(sab);
    this.inline = entry === INLINE;
    this.links = storesByWorker.map(
      (stores, i) => new WorkerLink(i, stores, sab, entry, log, logLevel, this.failures, refused),
    );
  }

  /**
   * workerName is what the logs call worker `worker`: its index, or `inline` for the stores of an
   * inline node (one host on the main thread, no worker thread 0).
   */
  workerName(worker: number): number | typeof INLINE {
    return this.inline ? INLINE : worker;
  }

  /** storeFailure returns why a store could not open, or undefined when it is open (or not started). */
  storeFailure(store: number): WireError | undefined {
    return this.failures.get(store);
  }

  /**
   * storeError returns the code of what refuses every write to open store `store` (its directory
   * lost: STORE_DIR_LOST), as its worker published it (positions.ts SLOT_STORE_ERROR), or undefined.
   */
  storeError(store: number): LocalErrorCode | undefined {
    return localErrorOf(this.positions.get(store, SLOT_STORE_ERROR));
  }

  /** start spawns every worker and waits until all stores are open. */
  async start(): Promise<void> {
    const results = await Promise.allSettled(this.links.map((l) => l.start()));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) {
      await this.stop();
      throw failed.reason;
    }
  }

  /**
   * submit queues one key operation on a worker; the handler is called exactly once. `w` > 0 waits
   * for replica acks. A string key is sent as UTF-8, a byte key as it is (binary-safe).
   */
  submit(
    worker: number,
    op: OpCode,
    store: number,
    key: string | Uint8Array,
    value: Uint8Array | string | undefined,
    handler: OpHandler,
    w = 0,
    timeoutMs = 0,
  ): void {
    this.links[worker]!.submit(op, store, key, value, handler, w, timeoutMs);
  }

  /** call sends a control message to a worker and resolves with its result. */
  call(worker: number, msg: CallMessage): Promise<CallResult> {
    return this.links[worker]!.call(msg);
  }

  /** callAll sends a control message to every worker. */
  callAll(msg: CallMessage): Promise<CallResult[]> {
    return Promise.all(this.links.map((l) => l.call(msg)));
  }

  /**
   * endPulls has every worker answer its leaders' parked pulls at once, once the writes they
   * accepted (this turn's too) settled, and later pulls without waiting: the process stops
   * (src/util/stop-wakes.ts). Resolves when every worker did or could not (one not running
   * has no pull parked).
   */
  async endPulls(): Promise<void> {
    await Promise.allSettled(this.links.map((l) => l.endPulls()));
  }

  /**
   * endWatch has every worker answer its parked watch polls at once, and later ones without
   * waiting: the process stops and its watch streams have ended (src/util/stop-wakes.ts). Resolves
   * when every worker did or could not (one not running has no poll parked).
   */
  async endWatch(): Promise<void> {
    await Promise.allSettled(this.links.map((l) => l.call({ type: 'end-watch' })));
  }

  /** inFlight counts operations and calls awaiting a reply. */
  get inFlight(): number {
    return this.links.reduce((n, l) => n + l.inFlight, 0);
  }

  /** replayProgress is the progress of the workers' commit log replays of their latest start (start-progress.ts). */
  replayProgress(): ReplayProgressOfNode {
    return replayProgressOf(this.links.map((l) => l.replay));
  }

  /** size is the number of workers. */
  get size(): number {
    return this.links.length;
  }

  /**
   * stop closes every store and ends every worker; resolves with whether every worker closed its
   * stores (their final flush and sync): the node keeps its RUNNING marker otherwise
   * (src/server/run-marker.ts), so the next start treats the stop as unclean.
   */
  async stop(): Promise<boolean> {
    const closed = await Promise.allSettled(this.links.map((l) => l.stop()));
    return closed.every((r) => r.status === 'fulfilled');
  }

  /** lastSeq returns the last acknowledged seq of a store. */
  lastSeq(store: number): number {
    return this.positions.get(store, SLOT_LAST_SEQ);
  }

  /** lastWriteSeq returns the last acknowledged seq of a store that is not its leader's own expire record (positions.ts). */
  lastWriteSeq(store: number): number {
    return this.positions.get(store, SLOT_LAST_WRITE_SEQ);
  }
}
