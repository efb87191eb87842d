/**
 * WorkerLink: the main thread's side of one shard worker thread (or of the inline host, `INLINE`),
 * and everything in flight on it. WorkerPool (worker-pool.ts) holds one per worker.
 *
 * Key operations submitted during one event-loop turn are encoded into one request batch and
 * posted once, from a setImmediate at the end of the turn (every request of a poll phase is read
 * before the check phase runs). Replies come back in batches and are matched to their handlers by
 * id: an op's id is its slot in `handlers`. Control calls (scan, stats, purge, close) are ordinary
 * messages with an id of their own. The worker's unasked messages are reply batches, its replicas'
 * refused pulls (`pull-refused`) and, while it opens its stores, the progress of its commit log's
 * replay (`replay`).
 *
 * Its messages are taken through a ReplyIntake (reply-intake.ts): at most about TURN_BYTES of large
 * reply batches per turn of the main thread, in order, each acknowledged to the worker once taken
 * (`reply-flow`, `replies-taken`), so that one connection's large replies cannot hold every other
 * connection for a turn of hundreds of milliseconds.
 *
 * When the worker dies, every operation and call in flight on it fails with UNAVAILABLE (503), the
 * failure is logged, and the worker is restarted with its stores after RESTART_DELAY_MS; its
 * requests fail fast with UNAVAILABLE until it is ready again. Inline, the stores run on the main
 * thread: the same batches and replies, handed over by calls instead of postMessage.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { DistkvError, errorFromWire, type WireError } from '../errors.js';
import {
  type FromWorker,
  isFromWorker,
  MESSAGE_VERSION,
  type StoreSpec,
  type ToWorker,
  type WorkerInit,
} from '../worker/messages.js';
import { ReplyReader, RequestWriter } from '../worker/op-codec.js';
import type { OnPullRefused } from '../replication/source.js';
import { type OpCode, ST_ERROR } from '../worker/op-format.js';
import type { ReplayReport } from '../storage/replay-progress.js';
import { HOLD_BYTES, ReplyIntake } from './reply-intake.js';

/**
 * OpHandler receives the reply to one key operation. `value` is a view into its reply batch's
 * buffer, a new one for every batch in both modes (ReplyBatch's `take()` copies into an exact-size
 * ArrayBuffer): a handler may keep it (HTTP writes a large value from it) but never writes it.
 */
export interface OpHandler {
  onReply(status: number, seq: number, value: Buffer): void;
}

/** CallResult is a worker's answer to a control call. */
export type CallResult = Exclude<
  FromWorker,
  | { type: 'ready' }
  | { type: 'failed' }
  | { type: 'replies' }
  | { type: 'pull-refused' }
  | { type: 'replay-progress' }
>;
/**
 * Unasked is what a worker sends of its own accord: reply batches, refusals of its replicas' pulls,
 * and the progress of its commit log's replay while it opens its stores.
 */
type Unasked = Extract<
  FromWorker,
  { type: 'replies' } | { type: 'pull-refused' } | { type: 'replay-progress' }
>;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** CallMessage is a control message without its id (the pool assigns it). */
export type CallMessage = DistributiveOmit<
  Exclude<ToWorker, { type: 'ops' } | { type: 'reply-flow' } | { type: 'replies-taken' }>,
  'id'
>;

const RESTART_DELAY_MS = 500;
const MAX_ID = 0xffffffff;

/** Port is what a link needs of its worker: a Worker thread, or the inline host. */
interface Port {
  postMessage(msg: ToWorker, transfer?: ArrayBuffer[]): void;
  terminate(): Promise<unknown>;
}

/** INLINE as the worker entry runs the stores on the calling (main) thread. */
export const INLINE = 'inline';

/** WorkerLink is one worker thread (or the inline host) and everything in flight on it. */
export class WorkerLink {
  worker: Port | undefined;
  ready = false;
  /** replay is the last report of the commit log's replay of this worker's latest start (none before its first). */
  replay: ReplayReport | undefined;
  private readonly requests = new RequestWriter();
  // Key operations in flight, by id: an op's id is its slot here (ids are recycled once answered),
  // so matching a reply is an array index rather than a hash lookup. `free` lists the unused slots.
  private handlers: (OpHandler | undefined)[] = [];
  private free: number[] = [];
  private opCount = 0;
  private readonly calls = new Map<
    number,
    { resolve: (m: CallResult) => void; reject: (e: Error) => void }
  >();
  private nextId = 1;
  private flushScheduled = false;
  private stopping = false;
  private readonly flushBound = (): void => {
    this.flush();
  };
  private readonly intake = new ReplyIntake<CallResult | Unasked>(
    (msg) => {
      this.receive(msg);
    },
    (msg) => (msg.type === 'replies' ? msg.length : 0),
    (bytes) => {
      this.worker?.postMessage({ type: 'replies-taken', bytes });
    },
  );

  readonly index: number;
  /** name is what its errors call it: `shard worker N`, or the inline store host on the main thread. */
  private readonly name: string;
  private readonly stores: StoreSpec[];
  private readonly positions: SharedArrayBuffer;
  private readonly entry: URL | typeof INLINE;
  private readonly log: Logger;
  private readonly logLevel: string;
  /** failures is the pool's map of stores that could not open (shared by all links). */
  private readonly failures: Map<number, WireError>;
  private readonly refused: OnPullRefused | undefined;

  constructor(
    index: number,
    stores: StoreSpec[],
    positions: SharedArrayBuffer,
    entry: URL | typeof INLINE,
    log: Logger,
    logLevel: string,
    failures: Map<number, WireError>,
    refused: OnPullRefused | undefined,
  ) {
    this.refused = refused;
    this.index = index;
    this.name = entry === INLINE ? 'the inline store host (main thread)' : `shard worker ${index}`;
    this.stores = stores;
    this.positions = positions;
    this.entry = entry;
    this.log = log;
    this.logLevel = logLevel;
    this.failures = failures;
  }

  /** opened records which of this worker's stores could not open, from its ready message. */
  private opened(msg: Extract<FromWorker, { type: 'ready' }>): void {
    for (const s of this.stores) this.failures.delete(s.index);
    for (const f of msg.failedStores ?? []) this.failures.set(f.index, f.error);
  }

  /** start spawns the worker and resolves once its stores are open. */
  start(): Promise<void> {
    this.replay = undefined;
    if (this.entry === INLINE) return this.startInline();
    const entry = this.entry;
    return new Promise((resolve, reject) => {
      const init: WorkerInit = {
        version: MESSAGE_VERSION,
        workerIndex: this.index,
        stores: this.stores,
        positions: this.positions,
        logLevel: this.logLevel,
      };
      const worker = new Worker(entry, { workerData: init, name: `shard-worker-${this.index}` });
      this.worker = worker;
      worker.postMessage({ type: 'reply-flow', holdBytes: HOLD_BYTES });
      let settled = false;
      worker.on('message', (msg: unknown) => {
        if (!isFromWorker(msg)) {
          this.log.warn({ worker: this.index }, 'dropped a malformed message from a shard worker');
          return;
        }
        if (msg.type === 'ready') {
          this.opened(msg);
          this.ready = true;
          settled = true;
          resolve();
        } else if (msg.type === 'failed') {
          settled = true;
          void worker.terminate();
          reject(errorFromWire(msg.error));
        } else this.intake.receive(msg);
      });
      worker.on('error', (err) => {
        this.log.error({ worker: this.index, err }, 'shard worker crashed');
      });
      worker.on('exit', (code) => {
        this.ready = false;
        this.worker = undefined;
        this.failAll({
          code: 'UNAVAILABLE',
          message: `shard worker ${this.index} exited (code ${code}) with the request in flight`,
        });
        if (!settled) {
          settled = true;
          reject(
            new DistkvError(
              'UNAVAILABLE',
              `shard worker ${this.index} exited with code ${code} while opening its stores`,
            ),
          );
          return;
        }
        if (this.stopping) return;
        this.log.error({ worker: this.index, code }, 'shard worker exited; restarting it');
        setTimeout(() => {
          // stop() during the backoff: the stores are closed for good (and the data directory
          // lock may be released), so the worker must not open them again.
          if (this.stopping) return;
          this.start().then(
            () => {
              this.log.info({ worker: this.index }, 'shard worker restarted');
            },
            (err: unknown) => {
              this.log.error({ worker: this.index, err }, 'shard worker failed to restart');
            },
          );
        }, RESTART_DELAY_MS).unref();
      });
    });
  }

  /**
   * startInline opens the stores on this thread: the same batches and replies, handed over by calls
   * instead of postMessage. No thread hop and no wake-ups; no crash isolation either (a failure
   * inside a store is still answered per operation, as on a worker).
   */
  private async startInline(): Promise<void> {
    // Imported here: the storage engine's modules (LMDB's native binding among them) would otherwise
    // load on the main thread at every start, delaying the listeners.
    const { ShardHost } = await import('../worker/shard-host.js');
    const host = await ShardHost.open(
      this.stores,
      this.positions,
      (msg) => {
        if (msg.type !== 'ready' && msg.type !== 'failed') this.intake.receive(msg);
      },
      this.log.child({ worker: 'inline' }),
    );
    this.worker = {
      postMessage: (msg) => {
        host.handle(msg);
      },
      terminate: () => Promise.resolve(0),
    };
    host.handle({ type: 'reply-flow', holdBytes: HOLD_BYTES });
    const ready = host.readyMessage();
    if (ready.type === 'ready') this.opened(ready);
    this.ready = true;
  }

  submit(
    op: OpCode,
    store: number,
    key: string | Uint8Array,
    value: Uint8Array | string | undefined,
    handler: OpHandler,
    w: number,
    timeoutMs: number,
  ): void {
    if (!this.ready) {
      handler.onReply(ST_ERROR, 0, unavailable(this.name));
      return;
    }
    const id = this.free.length > 0 ? this.free.pop()! : this.handlers.length;
    this.handlers[id] = handler;
    this.opCount++;
    this.requests.add(id, op, store, key, value, w, timeoutMs);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushBound);
    }
  }

  call(msg: CallMessage): Promise<CallResult> {
    const worker = this.worker;
    if (!this.ready || worker === undefined)
      return Promise.reject(new DistkvError('UNAVAILABLE', `${this.name} is not running`));
    const id = this.takeId();
    return new Promise((resolve, reject) => {
      this.calls.set(id, { resolve, reject });
      worker.postMessage({ ...msg, id });
    });
  }

  /** endPulls posts this turn's ops first (so they are accepted before it), then `end-pulls`. */
  endPulls(): Promise<CallResult> {
    this.flush();
    return this.call({ type: 'end-pulls' });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const worker = this.worker;
    if (worker === undefined) return;
    this.flush();
    try {
      await this.call({ type: 'close' });
    } finally {
      await worker.terminate();
    }
  }

  get inFlight(): number {
    return this.opCount + this.calls.size;
  }

  private takeId(): number {
    const id = this.nextId;
    this.nextId = id === MAX_ID ? 1 : id + 1;
    return id;
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.requests.count === 0 || this.worker === undefined) return;
    const { buffer, length } = this.requests.take();
    const msg: ToWorker = { type: 'ops', buffer, length };
    this.worker.postMessage(msg, [buffer]);
  }

  private receive(msg: CallResult | Unasked): void {
    // Reply batches first: they are nearly every message.
    if (msg.type === 'replies') {
      const r = new ReplyReader(msg.buffer, msg.length);
      const handlers = this.handlers;
      while (r.next()) {
        const id = r.id;
        const handler = handlers[id];
        if (handler === undefined) continue;
        handlers[id] = undefined;
        this.free.push(id);
        this.opCount--;
        handler.onReply(r.status, r.seq, r.value);
      }
      return;
    }
    if (msg.type === 'pull-refused') {
      this.refused?.(msg.leader, msg.code);
      return;
    }
    if (msg.type === 'replay-progress') {
      this.replay = msg;
      return;
    }
    const pending = this.calls.get(msg.id);
    if (pending === undefined) return;
    this.calls.delete(msg.id);
    if (msg.ok) pending.resolve(msg);
    else pending.reject(errorFromWire(msg.error));
  }

  private failAll(error: WireError): void {
    const body = Buffer.from(JSON.stringify(error));
    const ops = this.handlers.filter((h) => h !== undefined);
    const calls = [...this.calls.values()];
    // Ops queued for the next batch are answered here too: dropped, not sent to the restarted
    // worker (it would apply writes answered UNAVAILABLE, and its replies would reach the new
    // requests that reuse their ids).
    if (this.requests.count > 0) this.requests.take();
    // Reply batches still waiting for their turn answer ops failed here: their ids will be reused.
    this.intake.clear();
    this.handlers = [];
    this.free = [];
    this.opCount = 0;
    this.calls.clear();
    for (const h of ops) h.onReply(ST_ERROR, 0, body);
    for (const c of calls) c.reject(errorFromWire(error));
  }
}

function unavailable(name: string): Buffer {
  return Buffer.from(JSON.stringify({ code: 'UNAVAILABLE', message: `${name} is not running` }));
}
