/**
 * LsmStore: the LSM sidecar over LMDB (docs/architecture.md, "Storage"), distkv's default Store.
 *
 * On disk, per store directory (its log records live in the worker's shared commit log,
 * docs/commit-log-format.md, reached through its StoreLog):
 *   runs/NNNNNN.sst    SSTable runs flushed from memtables (sstable-format.ts), newer = higher number
 *   lmdb/data.mdb      the bottom level (lmdb-level.ts) with `applied_seq`
 *
 * Write: log append (group commit across the worker's stores, durable per the mode) → apply to
 * the active memtable → ack.
 * A memtable over `memtable_bytes` is frozen and flushed to a run in the background (flush-queue.ts,
 * which also stalls writes while too many wait; lsm-runs.ts builds the run); reads see it while it
 * flushes. Runs are compacted newest-wins into LMDB (lsm-runs.ts, lsm-compaction.ts) when there
 * are more than `max_runs`, when reads pass through them too often, or when writes stop for a
 * while (compaction-scheduler.ts); failed flushes and compactions retry with backoff (backoff.ts).
 * Read (lsm-reads.ts): active memtable → frozen memtables (newest first) → runs (newest first:
 * bloom, index, block cache) → LMDB. Invariant: every acknowledged write is in the commit log, or
 * in a synced run, or in LMDB at or below applied_seq; files are deleted only once a later level
 * durably holds their data (the log's segments once no store of the worker needs them).
 *
 * Recovery (lsm-recovery.ts): open LMDB, open and check every run, delete those at or below
 * applied_seq, replay the log's records above the newest durable seq into the memtable.
 *
 * Everything here runs on the store's worker thread; nothing is shared with other threads.
 */
import { DistkvError } from '../errors.js';
import type { HistogramSnapshot } from '../util/latency-histogram.js';
import type { KeyHash } from './bloom.js';
import { CompactionScheduler, IDLE_COMPACT_MS } from './compaction-scheduler.js';
import { FlushQueue } from './flush-queue.js';
import type { LmdbLevel } from './lmdb-level.js';
import { expiringIn, type Levels, newestIn, scanLevels } from './lsm-reads.js';
import { Memtable } from './memtable.js';
import { isLive } from './merge-iterator.js';
import type { BlockCache } from './sstable-reader.js';
import {
  type ExpiringPage,
  type Store,
  type StoreEntry,
  type StoreStats,
  type StoreValue,
  type WriteResult,
  type WriteSink,
  tellSink,
} from './store.js';
import {
  type RecordType,
  type RecordView,
  TYPE_DELETE,
  TYPE_EXPIRE,
  TYPE_PUT,
  TYPE_PUT_TTL,
} from './wal-format.js';
import type { CommitLog } from './commit-log.js';
import { storeNameOf, writeHome } from './commit-log-home.js';
import type { LsmOptions, LsmParts } from './lsm-options.js';
import { LsmReplication } from './lsm-replication.js';
import { LsmRuns } from './lsm-runs.js';
import { lsmStats } from './lsm-stats.js';
import type { StoreLog } from './store-log.js';
import { StoreDirWatch } from './store-dir-watch.js';
import { settledWithin } from '../util/within.js';

/**
 * LMDB_CLOSE_WAIT_MS bounds how long a close waits for LMDB's last commits (LmdbLevel.close): on
 * a full disk they never settle, and a stopping node must end within its bound.
 */
const LMDB_CLOSE_WAIT_MS = 1000;

/** LsmStore is one shard's LSM store. */
export class LsmStore implements Store {
  readonly engine = 'lsm';
  private readonly opts: LsmOptions;
  private readonly level: LmdbLevel;
  private readonly wal: StoreLog;
  /** ownedLog is the commit log this store closes with it (a store opened on its own). */
  private ownedLog: CommitLog | undefined;
  private readonly cache: BlockCache;
  /** levels are the memtables, runs and LMDB a read goes through, newest first (lsm-reads.ts). */
  private readonly levels: Levels;
  /** flushes holds the frozen memtables (newest first) and flushes them to runs. */
  private readonly flushes: FlushQueue;
  /** durableSeq: every write ≤ it is in a synced run or in LMDB. */
  private durableSeq: number;
  private appliedLastSeq: number;
  private readonly compaction: CompactionScheduler;
  private closed = false;
  /** closing is set once close() starts: a failed flush is then not retried. */
  private closing = false;
  /** replication is the store's side of replication: its log, epoch, retention and replicated writes. */
  readonly replication: LsmReplication;
  /** hashScratch holds a key's bloom hashes during one get. */
  private readonly hashScratch: KeyHash = { h1: 0, h2: 0 };
  /** runs builds and compacts the store's runs (lsm-runs.ts). */
  private readonly runs: LsmRuns;
  /** dirWatch notices the store's directory removed or replaced; writes are refused from then on. */
  private readonly dirWatch: StoreDirWatch;

  constructor(opts: LsmOptions, parts: LsmParts) {
    this.opts = opts;
    this.level = parts.level;
    this.wal = parts.log;
    this.cache = parts.cache;
    this.durableSeq = parts.durableSeq;
    this.appliedLastSeq = parts.lastSeq;
    this.dirWatch = new StoreDirWatch({
      vfs: opts.vfs,
      dir: opts.dir,
      log: opts.log,
      checkMs: opts.dirCheckMs,
      onLost: opts.onDirLost,
    });
    this.wal.applier = (key, seq, value, expiresAtMs, keyHash) => {
      this.applyDurable(key, seq, value, expiresAtMs, keyHash);
    };
    this.replication = new LsmReplication(
      {
        lastSeq: () => this.appliedLastSeq,
        scan: (prefix, after, limit, maxBytes) => this.scan(prefix, after, limit, maxBytes),
        isClosed: () => this.closed,
        beforeWrite: () => this.beforeWrite(),
        applyRecord: (records, v, keyHash) => {
          this.applyRecord(records, v, keyHash);
        },
        admit: () => {
          if (this.closed || this.flushes.mustStall || this.dirWatch.lost !== undefined) return false;
          this.compaction.wrote();
          return true;
        },
      },
      parts.log,
      parts.level,
      parts.logEpoch,
      opts.dir,
    );
    this.flushes = new FlushQueue(
      {
        build: (m) => this.runs.build(m),
        // A run is never built into a directory that is gone: its memtable's records stay in the log.
        stopped: () => this.dirWatch.check(),
        flushed: (m) => {
          this.durableSeq = Math.max(this.durableSeq, m.maxSeq);
          this.trimWal();
          this.compaction.runsChanged();
        },
        // The last flush at close goes ahead (one attempt) whatever holds flushes back.
        backpressure: () => (this.closing ? undefined : this.compaction.holdFlushes()),
        heldBack: () => this.compaction.heldBack(),
        isClosed: () => this.closed,
        isClosing: () => this.closing,
        dir: opts.dir,
        log: opts.log,
        retryMinMs: opts.retryMinMs,
        retryMaxMs: opts.retryMaxMs,
      },
      parts.frozen,
    );
    this.levels = { active: parts.active, frozen: this.flushes.frozen, runs: parts.runs, level: parts.level };
    this.runs = new LsmRuns({
      opts,
      levels: this.levels,
      level: parts.level,
      cache: parts.cache,
      runsDir: parts.runsDir,
      nextRunNo: parts.nextRunNo,
    });
    this.compaction = new CompactionScheduler({
      maxRuns: opts.maxRuns,
      idleMs: opts.idleCompactMs ?? IDLE_COMPACT_MS,
      retryMinMs: opts.retryMinMs,
      retryMaxMs: opts.retryMaxMs,
      dir: opts.dir,
      log: opts.log,
      runs: () => ({
        count: this.levels.runs.length,
        entries: this.levels.runs.reduce((n, r) => n + r.footer.entries, 0),
      }),
      memtableEmpty: () => this.levels.active.size === 0,
      flushIdle: () => {
        if (this.flushes.frozen.length === 0 && this.levels.active.size > 0 && !this.closed)
          this.freezeActive();
      },
      compact: async (reason) => {
        // Nor is LMDB written (its file may be one the directory no longer holds) or the log trimmed.
        const lost = this.dirWatch.check();
        if (lost !== undefined) throw lost;
        await this.runs.compact(reason);
        this.trimWal();
      },
    });
    // What recovery left frozen is flushed once the store is whole (the flush reads the compaction).
    this.flushes.schedule();
  }

  /** adoptLog makes this store close `log` when it closes (a store with a commit log of its own). */
  adoptLog(log: CommitLog): void {
    this.ownedLog = log;
  }

  get(key: Uint8Array): Uint8Array | undefined {
    return this.read(key)?.value;
  }

  read(key: Uint8Array, nowMs = this.now()): StoreValue | undefined {
    const v = newestIn(this.levels, key, this.hashScratch, this.compaction);
    return v !== undefined && isLive(v, nowMs)
      ? { value: v.value, seq: v.seq, expiresAtMs: v.expiresAtMs ?? 0 }
      : undefined;
  }

  put(key: Uint8Array, value: Uint8Array, expiresAtMs = 0): Promise<WriteResult> {
    return this.write(key, value, expiresAtMs);
  }

  delete(key: Uint8Array): Promise<WriteResult> {
    return this.write(key, null, 0);
  }

  expire(key: Uint8Array): Promise<WriteResult> {
    return this.write(key, null, 0, TYPE_EXPIRE);
  }

  writeTo(
    key: Uint8Array,
    value: Uint8Array | null,
    expiresAtMs: number,
    sink: WriteSink,
    token: number,
  ): void {
    const type = typeOf(value, expiresAtMs, TYPE_DELETE);
    if (this.closed || this.flushes.mustStall || this.dirWatch.lost !== undefined) {
      tellSink(this.stalledWrite(key, value, expiresAtMs, TYPE_DELETE), sink, token);
      return;
    }
    this.compaction.wrote();
    this.wal.appendTo(type, key, value, expiresAtMs, sink, token);
  }

  scan(prefix: Uint8Array, after: Uint8Array | undefined, limit: number, maxBytes = Infinity): StoreEntry[] {
    return scanLevels(this.levels, prefix, after, { limit, maxBytes }, this.now());
  }

  expiring(after: Uint8Array | undefined, limit: number): ExpiringPage {
    return expiringIn(this.levels, after, limit);
  }

  lastSeq(): number {
    return this.appliedLastSeq;
  }

  stats(): StoreStats {
    const stats = lsmStats({
      engine: this.engine,
      level: this.level,
      log: this.wal,
      active: this.levels.active,
      runs: this.levels.runs,
      cache: this.cache,
      lastSeq: this.appliedLastSeq,
      durableSeq: this.durableSeq,
      counters: this.runs.counters,
      compaction: this.compaction,
      flushes: this.flushes,
    });
    stats.dirLost = this.dirWatch.lost === undefined ? 0 : 1;
    return stats;
  }

  writeRefusal(): DistkvError | undefined {
    return this.dirWatch.lost ?? this.flushes.refusal();
  }

  timings(): Record<string, HistogramSnapshot> {
    return {
      walSyncSeconds: this.wal.syncSeconds(),
      flushSeconds: this.flushes.seconds.snapshot(),
      compactionSeconds: this.runs.compactionSeconds.snapshot(),
    };
  }

  /**
   * close flushes the memtables to a run first, so that a cleanly closed store's directory holds
   * all its data: its log records are in the worker's shared log, which a copied or moved store
   * directory leaves behind (a failed flush is logged; the log still has those records).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    // One attempt: a flush that fails while closing is not retried (its records stay in the log).
    this.closing = true;
    this.dirWatch.stop();
    this.compaction.release();
    // A failing flush waiting out its backoff tries once more now, not in up to 30 s.
    this.flushes.retryNow();
    if (this.levels.active.size > 0 || this.flushes.frozen.length > 0)
      await this.flush().catch((err: unknown) => {
        this.opts.log?.warn(
          { err: (err as Error).message, dir: this.opts.dir },
          'could not flush the memtable at close; its records stay in the commit log',
        );
      });
    // A close that started while this one flushed has done (or is doing) the rest.
    if (this.isClosed()) return;
    this.closed = true;
    this.compaction.close();
    try {
      await this.wal.close();
      await this.markFlushed();
      await this.ownedLog?.close();
    } finally {
      await this.flushes.running;
      // A compaction waiting for LMDB's confirmation (which a failed sync never gives) is not
      // waited for past the bound: it deletes nothing until confirmed, so leaving it loses nothing.
      if (!(await settledWithin(this.compaction.running, LMDB_CLOSE_WAIT_MS)))
        this.opts.log?.warn(
          { dir: this.opts.dir },
          `a compaction still waited for LMDB after ${LMDB_CLOSE_WAIT_MS} ms; closed without it (its runs stay until the next open compacts them)`,
        );
      for (const r of this.levels.runs) r.close();
      const late = await this.level.close(LMDB_CLOSE_WAIT_MS);
      if (late !== undefined) this.opts.log?.warn({ dir: this.opts.dir }, late);
    }
  }

  /**
   * markFlushed records in the store's pointer that its log holds nothing it needs, when everything
   * it wrote there is in its runs or LMDB (commit-log-home.ts): a log it no longer writes into (it
   * moved to another worker, or is not opened) then does not keep its segments for it.
   */
  private async markFlushed(): Promise<void> {
    if (this.wal.writtenSeq > this.durableSeq) return;
    const { dir, vfs } = this.opts;
    const log = this.wal.commitLog;
    await writeHome(vfs, dir, storeNameOf(dir), log.dir, log.id, true).catch((err: unknown) => {
      this.opts.log?.warn(
        { err: (err as Error).message, dir },
        'could not note the clean close in its commit-log file',
      );
    });
  }

  /** flush freezes the active memtable (if it holds anything) and resolves once no frozen memtable is left unflushed (tests use it). */
  async flush(): Promise<void> {
    this.checkOpen();
    if (this.levels.active.size > 0) this.freezeActive();
    await this.flushes.drain();
  }

  /** idle resolves once no flush or compaction is running (tests and benchmarks use it). */
  async idle(): Promise<void> {
    while (this.flushes.running !== undefined || this.compaction.running !== undefined)
      await (this.flushes.running ?? this.compaction.running);
  }

  /** now is the store's clock (Unix ms), which expiries are compared with. */
  private now(): number {
    return this.opts.clock?.() ?? Date.now();
  }

  /**
   * write logs a write; the log applies it to the memtable (applyDurable) once durable, then
   * resolves. Without a stall there is no await on the way: one promise per write.
   */
  private write(
    key: Uint8Array,
    value: Uint8Array | null,
    expiresAtMs: number,
    deleteType: RecordType = TYPE_DELETE,
  ): Promise<WriteResult> {
    if (this.closed || this.flushes.mustStall || this.dirWatch.lost !== undefined)
      return this.stalledWrite(key, value, expiresAtMs, deleteType);
    this.compaction.wrote();
    return this.wal.append(typeOf(value, expiresAtMs, deleteType), key, value, expiresAtMs);
  }

  /** stalledWrite is `write` once a stall is over (or refused: the store closed, flushes failing). */
  private async stalledWrite(
    key: Uint8Array,
    value: Uint8Array | null,
    expiresAtMs: number,
    deleteType: RecordType,
  ): Promise<WriteResult> {
    await this.beforeWrite();
    return this.wal.append(typeOf(value, expiresAtMs, deleteType), key, value, expiresAtMs);
  }

  /** beforeWrite checks the store is open and its directory in place, waits out a write stall and tells the compaction scheduler. */
  private async beforeWrite(): Promise<void> {
    this.checkOpen();
    const lost = this.dirWatch.lost;
    if (lost !== undefined) throw new DistkvError(lost.code, lost.message);
    await this.flushes.stall();
    this.compaction.wrote();
  }

  /** applyDurable puts a durable write into the active memtable (which copies the value; it may be a view of a request batch). */
  private applyDurable(
    key: Uint8Array,
    seq: number,
    value: Uint8Array | null,
    expiresAtMs: number,
    keyHash: number,
  ): void {
    const valueLen = value === null ? 0 : value.length;
    this.levels.active.applyHashed(keyHash, key, 0, key.length, seq, value, 0, valueLen, expiresAtMs);
    this.appliedLastSeq = seq;
    this.compaction.landed();
    if (this.levels.active.bytes >= this.opts.memtableBytes) this.freezeActive();
  }

  /** applyRecord puts a durable record of a replicated batch, its key hashed as `keyHash`, into the active memtable (which copies the value). */
  private applyRecord(records: Buffer, v: RecordView, keyHash: number): void {
    const isPut = v.type === TYPE_PUT || v.type === TYPE_PUT_TTL;
    this.levels.active.applyHashed(
      keyHash,
      records,
      v.keyStart,
      v.keyEnd,
      v.seq,
      isPut ? records : null,
      v.valueStart,
      v.end,
      v.expiresAtMs,
    );
    this.appliedLastSeq = v.seq;
    this.compaction.landed();
    if (this.levels.active.bytes >= this.opts.memtableBytes) this.freezeActive();
  }

  /** freezeActive makes the active memtable the newest frozen one and schedules its flush. */
  private freezeActive(): void {
    const m = this.levels.active;
    this.levels.active = new Memtable();
    this.flushes.push(m);
  }

  private isClosed(): boolean {
    return this.closed;
  }

  /** checkOpen throws UNAVAILABLE once close() has begun (it is re-checked after every await). */
  private checkOpen(): void {
    if (this.closed) throw new DistkvError('UNAVAILABLE', 'store is closed');
  }

  private trimWal(): void {
    this.wal.setDurable(this.durableSeq);
  }
}

/** typeOf is the record type of a write: a put (with or without expiry) or, for value null, `deleteType`. */
function typeOf(value: Uint8Array | null, expiresAtMs: number, deleteType: RecordType): RecordType {
  if (value === null) return deleteType;
  return expiresAtMs > 0 ? TYPE_PUT_TTL : TYPE_PUT;
}
