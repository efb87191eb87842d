/**
 * WalWriter: appends records to the newest WAL segment with group commit.
 *
 * Every record appended while a write is in flight joins the next batch; a batch is one append
 * and, in `fsync` mode, one fdatasync, after which all its writes resolve together. In `interval`
 * mode writes resolve after the append and a timer syncs every `fsyncIntervalMs`; in `none` mode
 * the OS decides (segments are still synced when sealed and at close).
 *
 * The writer assigns seqs: each record gets the next one, and a write resolves with its seq. Batches
 * resolve in seq order, so callers can apply writes in the order they resolve.
 *
 * Failure: a batch whose append or sync fails is rejected with DISK_FULL (507), together with every
 * record queued behind it, and is cut back off the file, so the log never holds a record that was
 * refused; the seq counter rewinds to just after the last good record, so seqs stay gapless. The
 * writer then refuses new writes at once for RETRY_MS, after which the next batch is tried normally:
 * writes resume by themselves when space returns. In `fsync` mode nothing acknowledged is at
 * risk: acknowledged batches were synced before the failure. (In `interval` and `none` modes a
 * write is acknowledged before it is synced; a failed periodic sync is logged and refuses writes
 * for RETRY_MS, but what it could not sync may be lost on power failure, as the mode says.)
 * If cutting a failed batch off fails too, the cut is retried before the next batch is written.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Durability } from '../config/schema.js';
import { DistkvError, toDistkvError } from '../errors.js';
import { LatencyHistogram } from '../util/latency-histogram.js';
import type { SegmentInfo } from './wal-reader.js';
import type { Vfs, WritableFile } from './vfs.js';
import {
  encodeHeader,
  encodeRecord,
  type RecordType,
  recordSize,
  segmentName,
  WAL_HEADER_BYTES,
} from './wal-format.js';

/** RETRY_MS is how long writes are refused after a failed batch before the next try. */
export const RETRY_MS = 500;

interface Waiter {
  /** first is the seq of the first record this waiter covers; seq, of the last (what it resolves with). */
  first: number;
  seq: number;
  resolve: (seq: number) => void;
  reject: (err: Error) => void;
}

/** WalWriterOptions configure a WalWriter. */
export interface WalWriterOptions {
  vfs: Vfs;
  dir: string;
  segmentBytes: number;
  durability: Durability;
  fsyncIntervalMs: number;
  /** segments are the existing segments from recovery (the newest is appended to if it has room). */
  segments: SegmentInfo[];
  /** nextSeq is the seq the next record will carry. */
  nextSeq: number;
  log?: Logger;
  /** onWritten receives every batch once written (and synced in fsync mode): its bytes in WAL record framing and its seq range. */
  onWritten?: (records: Buffer, firstSeq: number, lastSeq: number) => void;
}

/** WalWriter is the append side of one store's WAL. */
export class WalWriter {
  private readonly opts: WalWriterOptions;
  private file!: WritableFile;
  private current!: SegmentInfo;
  private readonly sealed: SegmentInfo[] = [];
  private pending: Buffer = Buffer.allocUnsafe(64 * 1024);
  private pendingLen = 0;
  private pendingWaiters: Waiter[] = [];
  private nextSeq: number;
  private writing = false;
  private scheduled = false;
  private failedAt = 0;
  private failure: DistkvError | undefined;
  private dirty = false;
  /** cutTo is the size to cut the file back to before the next append, after a failed cut. */
  private cutTo: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** counters for /stats. */
  readonly counters = { batches: 0, records: 0, syncs: 0, syncMsTotal: 0, failures: 0 };
  /** syncSeconds times every fdatasync of the log (for the /metrics histogram). */
  readonly syncSeconds = new LatencyHistogram();
  /** synced is the seq of the last record known to be on disk (fsynced); see `syncedSeq`. */
  private synced = 0;

  private constructor(opts: WalWriterOptions) {
    this.opts = opts;
    this.nextSeq = opts.nextSeq;
  }

  /** open continues the newest segment or starts segment 1. */
  static async open(opts: WalWriterOptions): Promise<WalWriter> {
    const w = new WalWriter(opts);
    opts.vfs.mkdirp(opts.dir);
    const segs = [...opts.segments];
    const newest = segs.pop();
    w.sealed.push(...segs);
    if (newest !== undefined && newest.bytes < opts.segmentBytes) {
      w.file = await opts.vfs.openAppend(newest.path, false);
      w.current = { ...newest };
      // What recovery read may be only in the page cache (a crash between an append and its sync):
      // sync it once, so `syncedSeq` starts true.
      await w.file.sync();
    } else {
      if (newest !== undefined) {
        const full = await opts.vfs.openAppend(newest.path, false);
        try {
          await full.sync();
        } finally {
          await full.close();
        }
        w.sealed.push(newest);
      }
      await w.startSegment((newest?.no ?? 0) + 1, opts.nextSeq);
    }
    w.synced = opts.nextSeq - 1;
    if (opts.durability === 'interval') {
      w.timer = setInterval(() => {
        w.intervalSync();
      }, opts.fsyncIntervalMs);
      w.timer.unref();
    }
    return w;
  }

  /** writtenSeq is the seq of the last record written (and synced in fsync mode). */
  get writtenSeq(): number {
    return this.current.lastSeq;
  }

  /**
   * syncedSeq is the seq of the last record fsynced to disk: every write up to it survives a power
   * loss. In `fsync` mode it reaches a batch's last seq before the batch is acknowledged; in
   * `interval` mode it trails acknowledgements by up to `fsyncIntervalMs`; in `none` mode it
   * moves only when a segment is sealed or the log closed.
   */
  get syncedSeq(): number {
    return this.synced;
  }

  /** lastSeq is the seq of the last record handed to append (durable or not). */
  get lastSeq(): number {
    return this.nextSeq - 1;
  }

  /**
   * append logs one record with the next seq; resolves with that seq when the record is durable per
   * the durability mode. `expectSeq`, when given, must be that next seq (replicas apply the leader's seqs).
   */
  append(
    type: RecordType,
    key: Uint8Array,
    value: Uint8Array | undefined,
    expectSeq?: number,
  ): Promise<number> {
    if (this.closed) return Promise.reject(new DistkvError('UNAVAILABLE', 'store is closed'));
    if (this.failure !== undefined && Date.now() - this.failedAt < RETRY_MS)
      return Promise.reject(this.failure);
    const seq = this.nextSeq;
    if (expectSeq !== undefined && expectSeq !== seq)
      return Promise.reject(
        new DistkvError('INTERNAL', `WAL append out of order: got seq ${expectSeq}, next is ${seq}`),
      );
    this.nextSeq++;
    const size = recordSize(key.length, value?.length ?? 0);
    if (this.pendingLen + size > this.pending.length) {
      const next = Buffer.allocUnsafe(Math.max(this.pending.length * 2, this.pendingLen + size));
      this.pending.copy(next, 0, 0, this.pendingLen);
      this.pending = next;
    }
    this.pendingLen += encodeRecord(this.pending, this.pendingLen, type, seq, key, value);
    return this.enqueue(seq, seq);
  }

  /**
   * appendRecords logs records already in WAL framing (a replica applying its leader's log): they
   * must carry the next seqs, `firstSeq`..`lastSeq`, in order (the caller checked their CRCs).
   * Resolves with `lastSeq` once durable per the durability mode.
   */
  appendRecords(records: Buffer, firstSeq: number, lastSeq: number): Promise<number> {
    if (this.closed) return Promise.reject(new DistkvError('UNAVAILABLE', 'store is closed'));
    if (this.failure !== undefined && Date.now() - this.failedAt < RETRY_MS)
      return Promise.reject(this.failure);
    if (firstSeq !== this.nextSeq)
      return Promise.reject(
        new DistkvError('INTERNAL', `WAL append out of order: got seq ${firstSeq}, next is ${this.nextSeq}`),
      );
    this.nextSeq = lastSeq + 1;
    if (this.pendingLen + records.length > this.pending.length) {
      const next = Buffer.allocUnsafe(Math.max(this.pending.length * 2, this.pendingLen + records.length));
      this.pending.copy(next, 0, 0, this.pendingLen);
      this.pending = next;
    }
    records.copy(this.pending, this.pendingLen);
    this.pendingLen += records.length;
    return this.enqueue(firstSeq, lastSeq);
  }

  private enqueue(first: number, seq: number): Promise<number> {
    const done = new Promise<number>((resolve, reject) => {
      this.pendingWaiters.push({ first, seq, resolve, reject });
    });
    if (!this.writing && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        void this.drain();
      });
    }
    return done;
  }

  /** segments lists every segment, oldest first, the one being written last. */
  segments(): SegmentInfo[] {
    return [...this.sealed, { ...this.current }];
  }

  /** bufferBytes is the size of the buffer records are encoded into before they are written. */
  get bufferBytes(): number {
    return this.pending.length;
  }

  /** bytes is the total size of all segments. */
  bytes(): number {
    return this.sealed.reduce((n, s) => n + s.bytes, 0) + this.current.bytes;
  }

  /** removeSealedThrough deletes sealed segments whose every record has seq ≤ `seq`; returns how many. */
  removeSealedThrough(seq: number): number {
    let n = 0;
    while (this.sealed.length > 0 && this.sealed[0]!.lastSeq <= seq) {
      const s = this.sealed.shift()!;
      this.opts.vfs.unlink(s.path);
      n++;
    }
    if (n > 0) this.opts.vfs.syncDir(this.opts.dir);
    return n;
  }

  /** close writes and syncs what is pending and closes the segment. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flushAll();
    this.closed = true;
    clearInterval(this.timer);
    try {
      await this.file.sync();
    } finally {
      await this.file.close();
    }
  }

  /** flushAll waits until every appended record has been written (and synced in fsync mode). */
  async flushAll(): Promise<void> {
    while (this.writing || this.scheduled || this.pendingLen > 0) {
      if (!this.writing && this.pendingLen > 0) await this.drain();
      else await new Promise((r) => setImmediate(r));
    }
  }

  private async drain(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      while (this.pendingLen > 0) await this.writeBatch();
    } finally {
      this.writing = false;
    }
  }

  private async writeBatch(): Promise<void> {
    const batch = Buffer.from(this.pending.subarray(0, this.pendingLen));
    const waiters = this.pendingWaiters;
    const lastSeq = waiters[waiters.length - 1]!.seq;
    this.pendingLen = 0;
    this.pendingWaiters = [];
    try {
      if (this.cutTo !== undefined) {
        await this.file.truncate(this.cutTo);
        await this.file.sync();
        this.cutTo = undefined;
      }
    } catch (err) {
      await this.fail(err, this.cutTo ?? this.file.size, waiters);
      return;
    }
    const before = this.file.size;
    try {
      await this.file.append(batch);
      if (this.opts.durability === 'fsync') await this.sync(lastSeq);
      else this.dirty = true;
    } catch (err) {
      await this.fail(err, before, waiters);
      return;
    }
    this.failure = undefined;
    this.current.bytes = this.file.size;
    this.current.lastSeq = lastSeq;
    this.counters.batches++;
    this.counters.records += waiters.length;
    this.opts.onWritten?.(batch, waiters[0]!.first, lastSeq);
    for (const w of waiters) w.resolve(w.seq);
    if (this.file.size >= this.opts.segmentBytes) {
      try {
        await this.roll(lastSeq + 1);
      } catch (err) {
        // The current segment stays open and keeps taking writes; rolling is retried after the next batch.
        this.opts.log?.error(
          { err: toDistkvError(err).message },
          'could not start a new WAL segment; continuing in the current one',
        );
      }
    }
  }

  /** sync fsyncs the current segment, which then holds every record through `through`. */
  private async sync(through: number = this.current.lastSeq): Promise<void> {
    const t0 = performance.now();
    await this.file.sync();
    const ms = performance.now() - t0;
    this.counters.syncs++;
    this.counters.syncMsTotal += ms;
    this.syncSeconds.observe(ms / 1000);
    this.synced = Math.max(this.synced, through);
    this.dirty = false;
  }

  private async fail(err: unknown, before: number, waiters: Waiter[]): Promise<void> {
    const e = toDistkvError(err);
    const refusal = new DistkvError(
      'DISK_FULL',
      `write-ahead log write failed (${e.message}); writes are refused until the disk accepts them again`,
      { cause: err },
    );
    this.failure = refusal;
    this.failedAt = Date.now();
    this.counters.failures++;
    this.opts.log?.error(
      { err: e.message, segment: this.current.path },
      'WAL write failed; refusing writes and retrying',
    );
    // Everything queued behind the failed batch carries later seqs: refuse it too and rewind.
    const queued = this.pendingWaiters;
    this.pendingWaiters = [];
    this.pendingLen = 0;
    this.nextSeq = this.current.lastSeq + 1;
    for (const w of waiters) w.reject(refusal);
    for (const w of queued) w.reject(refusal);
    // Cut the refused batch back off so the log never holds a record that was not acknowledged.
    try {
      await this.file.truncate(before);
      await this.file.sync();
    } catch (cutErr) {
      this.cutTo = before;
      this.opts.log?.error(
        { err: toDistkvError(cutErr).message },
        'could not cut a failed batch off the WAL; will cut it before the next write',
      );
    }
  }

  private intervalSync(): void {
    if (!this.dirty || this.writing || this.closed) return;
    this.writing = true;
    this.sync()
      .catch((err: unknown) => {
        this.failure = new DistkvError(
          'DISK_FULL',
          `periodic WAL sync failed: ${toDistkvError(err).message}`,
        );
        this.failedAt = Date.now();
        this.opts.log?.error({ err: toDistkvError(err).message }, 'periodic WAL sync failed');
      })
      .finally(() => {
        this.writing = false;
        if (this.pendingLen > 0) void this.drain();
      });
  }

  private async roll(nextSeq: number): Promise<void> {
    if (this.opts.durability !== 'fsync') await this.sync();
    // The new segment must be whole before the current one is let go: if starting it fails (a full
    // disk), writes go on in the current segment and no headerless file is left to take records.
    const next = await this.createSegment(this.current.no + 1, nextSeq);
    const old = this.file;
    this.sealed.push({ ...this.current });
    this.file = next.file;
    this.current = next.info;
    await old.close();
  }

  private async startSegment(no: number, firstSeq: number): Promise<void> {
    const next = await this.createSegment(no, firstSeq);
    this.file = next.file;
    this.current = next.info;
  }

  /** createSegment creates segment `no` with its header, synced; on failure it removes what it made and throws. */
  private async createSegment(
    no: number,
    firstSeq: number,
  ): Promise<{ file: WritableFile; info: SegmentInfo }> {
    const path = join(this.opts.dir, segmentName(no));
    const file = await this.opts.vfs.openAppend(path, true);
    try {
      await file.append(encodeHeader(no, 0, firstSeq));
      await file.sync();
      this.opts.vfs.syncDir(this.opts.dir);
    } catch (err) {
      await file.close().catch(() => undefined);
      try {
        this.opts.vfs.unlink(path);
      } catch {
        // Left behind, it is a newest segment without a whole header and no record: recovery deletes it.
      }
      throw err;
    }
    return { file, info: { no, path, firstSeq, lastSeq: firstSeq - 1, bytes: WAL_HEADER_BYTES } };
  }
}
