/**
 * StoreLog: one store's log inside its worker's shared commit log (commit-log.ts). It assigns the
 * store's seqs, keeps its records (WAL framing, wal-format.ts) until the commit log takes them at
 * the end of the turn (store-log-pending.ts), resolves each write once its batch is durable per
 * the durability mode, and answers the replication log API (replication-log.ts) through what it
 * keeps for its readers (store-log-readers.ts).
 *
 * A store's own write (`append`) is handed to the store's `applier` (its memtable) in seq order once
 * its batch is written, before the write resolves and before listeners and log readers see the
 * batch: one promise per write, and the store's last seq never trails its log.
 *
 * Mirror (`mirrorTo`): a replica of the store whose log is in the same commit log can be fed every
 * part this store hands to a batch, in that same batch (store-log-mirror.ts).
 * Used only on the store's worker thread.
 */
import { DistkvError } from '../errors.js';
import type { HistogramSnapshot } from '../util/latency-histogram.js';
import type { CommitLog } from './commit-log.js';
import type { LogMember, Pending } from './commit-log-member.js';
import type { LogListener, ReplicationLog } from './replication-log.js';
import type { WriteResult, WriteSink } from './store.js';
import type { RecordType } from './wal-format.js';
import type { TailResult } from './wal-tail.js';
import { SeqWaiters } from './seq-waiters.js';
import { PendingParts } from './store-log-pending.js';
import { LogReaders } from './store-log-readers.js';
import { type MirroredApply, mirroredWaiter, Waiter } from './store-log-waiter.js';
import { type LogMirror, MirrorFeed } from './store-log-mirror.js';
import { hashBytes } from './key-hash.js';

/** Applier puts a written record of the store into its memtable (value null: a delete); `keyHash` is hashBytes of `key` (key-hash.ts). */
export type Applier = (
  key: Uint8Array,
  seq: number,
  value: Uint8Array | null,
  expiresAtMs: number,
  keyHash: number,
) => void;

/** StoreLog is one store's part of the commit log. */
export class StoreLog implements LogMember, ReplicationLog {
  readonly id: number;
  /** buffered are the records appended and not yet taken by the commit log, with their waiters. */
  private readonly buffered = new PendingParts();
  /** applier receives each of the store's own writes once written, before it resolves. */
  applier: Applier | undefined;
  private readonly commit: CommitLog;
  /** readers is what the log keeps for replicas and watchers (store-log-readers.ts). */
  private readonly readers: LogReaders;
  /** taken holds the waiters of the part in the batch being written. */
  private taken: Waiter[][] = [];
  private nextSeq: number;
  private writtenThrough = 0;
  private syncedThrough = 0;
  private durable = 0;
  private retention: (() => number | undefined) | undefined;
  /** settleWaits wait until the log has written (or refused) everything through their seq (settled). */
  private readonly settleWaits = new SeqWaiters();
  /** mirror feeds the replica fed with this store's parts (mirrorTo), if any. */
  private readonly mirror = new MirrorFeed();
  /** fault: a hand-over of written records threw (isolate); every write is refused with it for good. */
  private fault: DistkvError | undefined;
  /** unanswered are the waiters of the part whose hand-over threw, until isolate refuses them. */
  private unanswered: readonly Waiter[] = [];
  private closed = false;

  /** `nextSeq` is the seq the store's next record carries; everything before it is durable. */
  constructor(commit: CommitLog, id: number, nextSeq: number, ringBytes: number) {
    this.commit = commit;
    this.id = id;
    this.nextSeq = nextSeq;
    this.writtenThrough = nextSeq - 1;
    this.syncedThrough = nextSeq - 1;
    this.readers = new LogReaders(commit, id, ringBytes);
  }

  /**
   * epoch is the epoch this store's records are written in (0 until failover sets it): each record
   * carries the one in force when it was appended, however late its batch is taken.
   */
  get epoch(): number {
    return this.buffered.epoch;
  }

  set epoch(epoch: number) {
    this.buffered.setEpoch(epoch, this.nextSeq - 1);
  }

  /** writtenSeq is the seq of the last record written (and synced in fsync mode). */
  get writtenSeq(): number {
    return this.writtenThrough;
  }

  /** syncedSeq is the seq of the last record fsynced: every write up to it survives a power loss. */
  get syncedSeq(): number {
    return this.syncedThrough;
  }

  /** lastSeq is the seq of the last record handed to append (durable or not). */
  get lastSeq(): number {
    return this.nextSeq - 1;
  }

  get durableSeq(): number {
    return this.durable;
  }

  /** memoryBytes is what the log holds in memory for this store: recent batches and the encoding buffer. */
  get memoryBytes(): number {
    return this.readers.memoryBytes;
  }

  /** bufferBytes is the size of the buffer records are encoded into before the commit log takes them. */
  get bufferBytes(): number {
    return this.buffered.bufferBytes;
  }

  /** commitLog is the worker's commit log this store's records go into. */
  get commitLog(): CommitLog {
    return this.commit;
  }

  /** logBytes is the size of the worker's whole commit log (shared by its stores). */
  logBytes(): number {
    return this.commit.bytes();
  }

  /** logSegments is the number of segments of the worker's commit log. */
  logSegments(): number {
    return this.commit.segments().length;
  }

  /** counters are the commit log's counters under the names /stats gives them (worker-wide). */
  counters(): Record<string, number> {
    const c = this.commit.counters;
    return {
      walBatches: c.batches,
      walSyncs: c.syncs,
      walSyncMsAvg: c.syncs === 0 ? 0 : c.syncMsTotal / c.syncs,
      walFailures: c.failures,
      walSyncRepairs: c.syncRepairs,
    };
  }

  /** syncSeconds is the commit log's fdatasync latency histogram. */
  syncSeconds(): HistogramSnapshot {
    return this.commit.syncSeconds.snapshot();
  }

  /** setDurable records that everything through `seq` is durable outside the log, then trims the log. */
  setDurable(seq: number): void {
    this.durable = Math.max(this.durable, seq);
    this.commit.trim();
  }

  /** setRetention installs the replication hook: the lowest seq a replica still needs (undefined = none). */
  setRetention(hook: () => number | undefined): void {
    this.retention = hook;
  }

  retainFrom(): number | undefined {
    return this.retention?.();
  }

  /**
   * append logs one record of the store with the next seq (value null: a delete or expire); once
   * it is durable per the durability mode, hands it to the applier and resolves with its seq.
   */
  append(type: RecordType, key: Uint8Array, value: Uint8Array | null, expiresAtMs = 0): Promise<WriteResult> {
    const w = this.admit(type, key, value, expiresAtMs);
    return w instanceof Waiter ? this.enqueue(w) : Promise.reject(w);
  }

  /**
   * appendTo is `append` answered through `sink` under `token` (WriteSink, store.ts) instead of a
   * promise: a refusal is told before it returns.
   */
  appendTo(
    type: RecordType,
    key: Uint8Array,
    value: Uint8Array | null,
    expiresAtMs: number,
    sink: WriteSink,
    token: number,
  ): void {
    const w = this.admit(type, key, value, expiresAtMs);
    if (!(w instanceof Waiter)) {
      sink.refused(token, w);
      return;
    }
    w.sink = sink;
    w.token = token;
    this.queue(w);
  }

  /** admit encodes a record of the store with the next seq and returns its waiter, or why it is refused. */
  private admit(
    type: RecordType,
    key: Uint8Array,
    value: Uint8Array | null,
    expiresAtMs: number,
  ): Waiter | DistkvError {
    const refused = this.refusal();
    if (refused !== undefined) return refused;
    const seq = this.nextSeq++;
    this.buffered.encode(type, seq, key, value, expiresAtMs);
    // Hashed once here for the store's memtable and, through the part's origins, its mirrored replica's.
    return new Waiter(seq, key, value, expiresAtMs, hashBytes(key, 0, key.length));
  }

  /**
   * appendRecords logs records already in WAL framing (a replica applying its leader's log): they
   * must carry the next seqs, `firstSeq`..`lastSeq` (the caller checked their CRCs).
   */
  appendRecords(records: Buffer, firstSeq: number, lastSeq: number): Promise<WriteResult> {
    const refused = this.refusal();
    if (refused !== undefined) return Promise.reject(refused);
    if (firstSeq !== this.nextSeq)
      return Promise.reject(
        new DistkvError('INTERNAL', `log append out of order: got seq ${firstSeq}, next is ${this.nextSeq}`),
      );
    this.nextSeq = lastSeq + 1;
    this.buffered.copy(records, firstSeq);
    return this.enqueue(new Waiter(lastSeq, undefined, null, 0));
  }

  take(): Pending | undefined {
    const taken = this.buffered.take(this.nextSeq - 1);
    if (taken === undefined) return undefined;
    const part = taken.part;
    this.taken.push(taken.waiters);
    // The rest (of a later epoch) goes into the same batch, in a frame of its own.
    if (taken.more) this.commit.pending(this);
    this.mirror.feed(part, taken.waiters);
    return part;
  }

  /**
   * mirrorTo feeds `m` with every part of this store from the next batch on (LogMirror). It starts
   * only where the replica's log continues this one exactly: the replica's next seq is this
   * store's first unwritten one, no part of this store is in a batch being written (too late to
   * mirror), and the replica has nothing pending or in flight of its own. Returns whether it started.
   */
  mirrorTo(m: LogMirror): boolean {
    const r = m.log;
    if (this.mirror.active || r === this || r.commit !== this.commit || this.closed || r.closed) return false;
    if (this.taken.length > 0 || r.taken.length > 0 || !r.buffered.empty) return false;
    if (r.nextSeq !== this.writtenThrough + 1) return false;
    this.mirror.start(m);
    return true;
  }

  /** unmirror ends mirror `m` if it is this log's. */
  unmirror(m: LogMirror): void {
    this.mirror.unmirror(m);
  }

  /**
   * appendMirrored appends the leader's `part` (a mirror's feed, during the commit log's take) in
   * the epoch the leader wrote it in; `apply` gets it once written, with `origins` (the leader's
   * waiters of `part`). False, appending nothing, when it does not continue this log or writes are
   * refused. Only a MirrorFeed calls it (store-log-mirror.ts).
   */
  appendMirrored(part: Pending, apply: MirroredApply, origins: readonly Waiter[]): boolean {
    if (part.first !== this.nextSeq || this.refusal() !== undefined) return false;
    this.epoch = part.epoch;
    this.nextSeq = part.last + 1;
    this.buffered.copy(part.records, part.first);
    this.buffered.wait(mirroredWaiter(part.first, part.last, apply, origins));
    this.commit.pending(this);
    return true;
  }

  /**
   * settled resolves once every record handed to this log so far has been written or refused:
   * none is left in a batch. A replica whose feed ended waits for it before it pulls, as fed
   * parts of batches already taken are still written after the feed ends (up to MAX_IN_FLIGHT).
   */
  settled(): Promise<void> {
    const seq = this.nextSeq - 1;
    if (this.writtenThrough >= seq || this.closed) return Promise.resolve();
    return this.settleWaits.wait(seq);
  }

  written(part: Pending): void {
    const waiters = this.taken.shift() ?? [];
    if (this.fault !== undefined) {
      // Isolated: the records are in the log (a reopen replays them), but nothing more is handed over.
      this.writtenThrough = part.last;
      for (const w of waiters) w.fail(this.fault);
      this.settle(this.taken.length === 0 ? undefined : part.last);
      return;
    }
    try {
      this.handOver(part, waiters);
    } catch (err) {
      // The commit log isolates the store next (isolate), refusing these with its error.
      this.unanswered = waiters;
      throw err;
    }
  }

  /**
   * handOver gives a written part to the applier, the recent log and the listeners, then resolves
   * its waiters. An applier that throws (the memtable could not take a record) throws out of here:
   * the store is isolated (`isolate`), so no later record of it is applied over the hole and its
   * durable seq never passes the record its memtable lacks (a reopen replays it from the log), and
   * nobody reads the part. Refusing that one write and going on left the record in the log and in
   * the replicas but not in the store, and its next flush let the log drop it.
   */
  private handOver(part: Pending, waiters: readonly Waiter[]): void {
    const applier = this.applier;
    for (const w of waiters)
      if (w.key !== undefined && applier !== undefined)
        applier(w.key, w.seq, w.value, w.expiresAtMs, w.keyHash);
      else if (w.apply !== undefined) w.apply(part.records, w.first, w.seq, w.origins);
    this.writtenThrough = part.last;
    if (this.commit.durability === 'fsync') this.syncedThrough = Math.max(this.syncedThrough, part.last);
    this.readers.written(part.records, part.first, part.last);
    for (const w of waiters) w.done();
    this.settle(part.last);
  }

  /**
   * isolate: handing over `part` threw (LogMember.isolate). The store refuses every write from now
   * on with `err`: what is still pending is dropped (never written), parts already in flight are
   * written but refused, and readers and listeners get nothing more. Reopening the store replays
   * its log.
   */
  isolate(part: Pending, err: DistkvError): void {
    this.fault = err;
    // Rejecting an already resolved waiter does nothing: only those not yet answered are refused.
    for (const w of this.unanswered) w.fail(err);
    this.unanswered = [];
    this.writtenThrough = Math.max(this.writtenThrough, part.last);
    const dropped = this.buffered.drop();
    this.nextSeq = Math.max(this.writtenThrough, ...this.taken.flat().map((w) => w.seq)) + 1;
    for (const w of dropped) w.fail(err);
    this.readers.releaseAll();
    this.settle(this.taken.length === 0 ? undefined : part.last);
    this.mirror.end();
  }

  /** settle resolves the settled() waiters up to `through` (everything, when undefined). */
  private settle(through?: number): void {
    if (through === undefined) this.settleWaits.releaseAll();
    else this.settleWaits.reach(through);
  }

  failed(err: DistkvError): void {
    const refused = [...this.taken.flat(), ...this.buffered.drop()];
    this.taken = [];
    this.nextSeq = this.writtenThrough + 1;
    for (const w of refused) w.fail(err);
    this.settle();
    // The replica's part of the refused batch was refused with it: it pulls from its ack again.
    this.mirror.end();
  }

  synced(through: number): void {
    this.syncedThrough = Math.max(this.syncedThrough, through);
  }

  readLog(after: number, maxBytes: number): TailResult {
    return this.readers.readLog(after, this.writtenThrough, maxBytes);
  }

  oldestLogSeq(): number {
    return this.readers.oldestLogSeq(this.writtenThrough);
  }

  onLog(listener: LogListener): void {
    this.readers.onLog(listener);
  }

  waitForLog(after: number, ms: number): Promise<void> {
    if (this.writtenThrough > after || ms <= 0 || this.closed) return Promise.resolve();
    // Its first record after `after` is at after + 1.
    return this.readers.waitForRecord(after + 1, ms);
  }

  /** close waits for this store's pending records to be written, then leaves the commit log. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.commit.flushAll();
    this.closed = true;
    this.mirror.end();
    this.settle();
    this.commit.detach(this);
  }

  private refusal(): DistkvError | undefined {
    if (this.closed) return new DistkvError('UNAVAILABLE', 'store is closed');
    return this.fault ?? this.commit.refusal();
  }

  private enqueue(w: Waiter): Promise<WriteResult> {
    const done = new Promise<WriteResult>((resolve, reject) => {
      w.resolve = resolve;
      w.reject = reject;
    });
    this.queue(w);
    return done;
  }

  /** queue hands `w`'s record to the commit log's next batch. */
  private queue(w: Waiter): void {
    this.buffered.wait(w);
    this.commit.pending(this);
  }
}
