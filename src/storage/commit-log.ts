/**
 * CommitLog: the one log of a worker thread, shared by every store it owns (docs/commit-log-format.md),
 * with group commit across all of them.
 *
 * Each store's StoreLog (store-log.ts) assigns its own seqs and encodes its records into a buffer of
 * its own; at the end of the event-loop turn the commit log takes every store's pending records,
 * writes them as one frame per store in ONE append and, with `durability = "fsync"`, ONE
 * fdatasync, then hands each store its part (the store applies and acknowledges it). In
 * `interval` mode writes are acknowledged after the append and a timer syncs every
 * `fsyncIntervalMs`; in `none` mode the OS decides (segments are still synced when sealed and at close).
 *
 * Failure: a batch whose append or sync fails is cut back off the file and every write in it, and
 * every write queued behind it in any store, is refused with DISK_FULL (507); each store's seq
 * counter rewinds to just after its last written record, so seqs stay gapless. New writes are then
 * refused for RETRY_MS, after which the next batch is tried normally.
 *
 * Retention: a sealed segment is deleted (oldest first) once no attached store needs it: not for
 * recovery (it holds records above the store's durable seq) and not for a replica (records at or
 * above the store's retention seq), the latter honoured for at most `retentionBytes` of segments.
 * Trimming starts only once every store of the worker is attached (`startTrimming`).
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Durability } from '../config/schema.js';
import { DistkvError, toDistkvError } from '../errors.js';
import { LatencyHistogram } from '../util/latency-histogram.js';
import {
  encodeBaseFrame,
  encodeLogHeader,
  FRAME_HEADER_BYTES,
  FRAME_RECORDS,
  LOG_HEADER_BYTES,
  writeFrameHeader,
} from './commit-log-format.js';
import { indexFrame, type LogSegment, voidFrom } from './commit-log-index.js';
import type { Vfs, WritableFile } from './vfs.js';
import { segmentName } from './wal-format.js';

/** RETRY_MS is how long writes are refused after a failed batch before the next try. */
export const RETRY_MS = 500;

/** Pending is what a member hands over for one batch: its records in WAL framing and their seqs. */
export interface Pending {
  records: Buffer;
  first: number;
  last: number;
}

/** LogMember is a store's side of the commit log (StoreLog implements it). */
export interface LogMember {
  readonly id: number;
  readonly epoch: number;
  /** take hands over (and forgets) what the store appended since the last batch, or undefined. */
  take(): Pending | undefined;
  /** written: the part of a batch taken from this store is written (and synced in fsync mode); `records` is a view valid for good. */
  written(part: Pending): void;
  /** failed: the batch holding the store's part (if any) failed; refuse it and everything queued, and rewind. */
  failed(err: DistkvError): void;
  /** synced: every record this store had written before the sync began is on disk. */
  synced(through: number): void;
  /** writtenSeq is the seq of the store's last written record. */
  readonly writtenSeq: number;
  /** durableSeq: records at or below it are durable outside the log (runs, LMDB). */
  readonly durableSeq: number;
  /** retainFrom is the lowest seq a replica (or the seed cursor) still needs, if any. */
  retainFrom(): number | undefined;
}

/** CommitLogOptions configure a CommitLog. */
export interface CommitLogOptions {
  vfs: Vfs;
  dir: string;
  segmentBytes: number;
  retentionBytes: number;
  durability: Durability;
  fsyncIntervalMs: number;
  /** segments are the existing segments from recovery, oldest first (the newest is continued if it has room). */
  segments: LogSegment[];
  log?: Logger;
}

/** CommitLog is the append side of one worker's log. Used only on that worker's thread. */
export class CommitLog {
  private readonly opts: CommitLogOptions;
  private file!: WritableFile;
  private readonly all: LogSegment[] = [];
  private readonly members = new Map<number, LogMember>();
  /** pinned are stores that could not open: every segment holding their records is kept. */
  private readonly pinned = new Set<number>();
  private readonly dirtyMembers = new Set<LogMember>();
  private bases: { frame: Buffer; store: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  private writing = false;
  private scheduled = false;
  private failedAt = 0;
  private failure: DistkvError | undefined;
  private dirty = false;
  private cutTo: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private trimming = false;
  /** counters for /stats. */
  readonly counters = { batches: 0, records: 0, syncs: 0, syncMsTotal: 0, failures: 0 };
  /** syncSeconds times every fdatasync of the log (for the /metrics histogram). */
  readonly syncSeconds = new LatencyHistogram();

  private constructor(opts: CommitLogOptions) {
    this.opts = opts;
  }

  /** open continues the newest segment or starts the next one. */
  static async open(opts: CommitLogOptions): Promise<CommitLog> {
    const c = new CommitLog(opts);
    opts.vfs.mkdirp(opts.dir);
    c.all.push(...opts.segments);
    const newest = c.all[c.all.length - 1];
    if (newest !== undefined && newest.bytes < opts.segmentBytes) {
      c.file = await opts.vfs.openAppend(newest.path, false);
      // What recovery read may be only in the page cache: sync it once so acks start true.
      await c.file.sync();
    } else {
      if (newest !== undefined) {
        const full = await opts.vfs.openAppend(newest.path, false);
        try {
          await full.sync();
        } finally {
          await full.close();
        }
      }
      const next = await c.createSegment((newest?.no ?? 0) + 1);
      c.file = next.file;
      c.all.push(next.seg);
    }
    if (opts.durability === 'interval') {
      c.timer = setInterval(() => {
        c.intervalSync();
      }, opts.fsyncIntervalMs);
      c.timer.unref();
    }
    return c;
  }

  /** durability is the log's durability mode. */
  get durability(): Durability {
    return this.opts.durability;
  }

  /** dir is the log's directory. */
  get dir(): string {
    return this.opts.dir;
  }

  /** vfs is the file seam the log's segments are read through. */
  get vfs(): Vfs {
    return this.opts.vfs;
  }

  /** segments lists every segment with its index, oldest first, the one being written last (live: do not modify). */
  segments(): readonly LogSegment[] {
    return this.all;
  }

  /** bytes is the total size of all segments. */
  bytes(): number {
    return this.all.reduce((n, s) => n + s.bytes, 0);
  }

  /**
   * attach makes `member` a writer of this log, after a FRAME_BASE (synced whatever the mode)
   * saying that its next record has seq `nextSeq`: anything of the store earlier in the log with
   * that seq or above is void from then on (a store rebuilt from a snapshot starts again).
   */
  async attach(member: LogMember, nextSeq: number): Promise<void> {
    if (this.members.has(member.id))
      throw new DistkvError('INTERNAL', `two stores share the commit log id ${member.id}`);
    this.members.set(member.id, member);
    voidFrom(this.all, member.id, nextSeq);
    await new Promise<void>((resolve, reject) => {
      this.bases.push({
        frame: encodeBaseFrame(member.id, member.epoch, nextSeq),
        store: member.id,
        resolve,
        reject,
      });
      this.schedule();
    });
  }

  /** pin keeps every segment holding records of store `id` (a store of the worker that could not open). */
  pin(id: number): void {
    this.pinned.add(id);
  }

  /** detach stops counting `member` for retention (its store closed); what it wrote stays in the log. */
  detach(member: LogMember): void {
    if (this.members.get(member.id) === member) this.members.delete(member.id);
    this.dirtyMembers.delete(member);
  }

  /** refusal returns the error new writes get while a failed batch is recent, else undefined. */
  refusal(): DistkvError | undefined {
    if (this.closed) return new DistkvError('UNAVAILABLE', 'store is closed');
    if (this.failure !== undefined && Date.now() - this.failedAt < RETRY_MS) return this.failure;
    return undefined;
  }

  /** pending tells the log that `member` has records to write in this turn's batch. */
  pending(member: LogMember): void {
    this.dirtyMembers.add(member);
    this.schedule();
  }

  /** startTrimming allows deleting segments (once every store of the worker is attached). */
  startTrimming(): void {
    this.trimming = true;
  }

  /** flushAll waits until everything handed to the log has been written (and synced in fsync mode). */
  async flushAll(): Promise<void> {
    while (this.writing || this.scheduled || this.dirtyMembers.size > 0 || this.bases.length > 0) {
      if (!this.writing && !this.scheduled) await this.drain();
      else await new Promise((r) => setImmediate(r));
    }
  }

  /** sync waits for everything handed to the log, then fsyncs it whatever the durability mode. */
  async sync(): Promise<void> {
    await this.flushAll();
    await this.syncNow();
  }

  /** close writes and syncs what is pending and closes the segment. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flushAll();
    this.closed = true;
    clearInterval(this.timer);
    try {
      await this.syncNow();
    } finally {
      await this.file.close();
    }
  }

  /**
   * trim deletes the oldest sealed segments no attached store needs any more (see the module
   * comment); returns how many.
   */
  trim(): number {
    if (!this.trimming || this.closed) return 0;
    const sealed = this.all.length - 1;
    const members = [...this.members.values()].map((m) => ({ m, retain: m.retainFrom() }));
    // Newest first, so replica-only segments count against the budget newest first.
    const needed: boolean[] = [];
    let replicaBytes = 0;
    for (let i = sealed - 1; i >= 0; i--) {
      const s = this.all[i]!;
      let recovery = [...this.pinned].some((id) => s.stores.has(id));
      let replica = false;
      for (const { m, retain } of members) {
        const r = s.stores.get(m.id);
        if (r === undefined) continue;
        if (r.last > m.durableSeq) recovery = true;
        else if (retain !== undefined && r.last >= retain) replica = true;
      }
      if (replica && !recovery) replicaBytes += s.bytes;
      needed[i] = recovery || (replica && replicaBytes <= this.opts.retentionBytes);
    }
    let n = 0;
    while (n < sealed && needed[n] === false) n++;
    if (n === 0) return 0;
    for (const s of this.all.splice(0, n)) this.opts.vfs.unlink(s.path);
    this.opts.vfs.syncDir(this.opts.dir);
    return n;
  }

  private schedule(): void {
    if (this.writing || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      while (this.dirtyMembers.size > 0 || this.bases.length > 0) await this.writeBatch();
    } finally {
      this.writing = false;
    }
  }

  private async writeBatch(): Promise<void> {
    const bases = this.bases;
    this.bases = [];
    const parts: { member: LogMember; part: Pending; at: number }[] = [];
    let size = bases.reduce((n, b) => n + b.frame.length, 0);
    for (const member of this.dirtyMembers) {
      const part = member.take();
      if (part === undefined) continue;
      parts.push({ member, part, at: size });
      size += FRAME_HEADER_BYTES + part.records.length;
    }
    this.dirtyMembers.clear();
    const batch = Buffer.allocUnsafe(size);
    let at = 0;
    for (const b of bases) at += b.frame.copy(batch, at);
    for (const p of parts) {
      writeFrameHeader(batch, p.at, FRAME_RECORDS, p.member.id, p.member.epoch, p.part.records.length);
      p.part.records.copy(batch, p.at + FRAME_HEADER_BYTES);
    }
    const before = this.file.size;
    try {
      if (this.cutTo !== undefined) {
        await this.file.truncate(this.cutTo);
        await this.file.sync();
        this.cutTo = undefined;
      }
      await this.file.append(batch);
      if (this.opts.durability === 'fsync' || bases.length > 0) await this.syncNow();
      else this.dirty = true;
    } catch (err) {
      await this.fail(err, this.cutTo ?? before, parts, bases);
      return;
    }
    this.failure = undefined;
    const seg = this.all[this.all.length - 1]!;
    seg.bytes = this.file.size;
    this.counters.batches++;
    for (const b of bases) b.resolve();
    for (const p of parts) {
      const body = p.at + FRAME_HEADER_BYTES;
      const records = batch.subarray(body, body + p.part.records.length);
      indexFrame(seg, p.member.id, before + p.at, p.part.first, p.part.last);
      this.counters.records += p.part.last - p.part.first + 1;
      p.member.written({ records, first: p.part.first, last: p.part.last });
    }
    if (this.file.size >= this.opts.segmentBytes) {
      try {
        await this.roll();
      } catch (err) {
        // The current segment keeps taking writes; rolling is retried after the next batch.
        this.opts.log?.error(
          { err: toDistkvError(err).message },
          'could not start a new commit log segment; continuing in the current one',
        );
      }
    }
  }

  /** syncNow fsyncs the current segment and tells every member what is now on disk. */
  private async syncNow(): Promise<void> {
    const through = [...this.members.values()].map((m) => [m, m.writtenSeq] as const);
    const t0 = performance.now();
    await this.file.sync();
    const ms = performance.now() - t0;
    this.counters.syncs++;
    this.counters.syncMsTotal += ms;
    this.syncSeconds.observe(ms / 1000);
    this.dirty = false;
    for (const [m, seq] of through) m.synced(seq);
  }

  private async fail(
    err: unknown,
    before: number,
    parts: readonly { member: LogMember }[],
    bases: readonly { reject: (e: Error) => void }[],
  ): Promise<void> {
    const e = toDistkvError(err);
    const refusal = new DistkvError(
      'DISK_FULL',
      `commit log write failed (${e.message}); writes are refused until the disk accepts them again`,
      { cause: err },
    );
    this.failure = refusal;
    this.failedAt = Date.now();
    this.counters.failures++;
    this.opts.log?.error(
      { err: e.message, dir: this.opts.dir },
      'commit log write failed; refusing writes and retrying',
    );
    // Everything queued behind the failed batch carries later seqs: refuse it too, in every store.
    for (const p of parts) this.dirtyMembers.add(p.member);
    for (const m of this.dirtyMembers) m.failed(refusal);
    this.dirtyMembers.clear();
    for (const b of bases) b.reject(refusal);
    // Cut the refused batch back off so the log never holds a record that was not acknowledged.
    try {
      await this.file.truncate(before);
      await this.file.sync();
    } catch (cutErr) {
      this.cutTo = before;
      this.opts.log?.error(
        { err: toDistkvError(cutErr).message },
        'could not cut a failed batch off the commit log; will cut it before the next write',
      );
    }
  }

  private intervalSync(): void {
    if (!this.dirty || this.writing || this.closed) return;
    this.writing = true;
    this.syncNow()
      .catch((err: unknown) => {
        this.failure = new DistkvError(
          'DISK_FULL',
          `periodic commit log sync failed: ${toDistkvError(err).message}`,
        );
        this.failedAt = Date.now();
        this.opts.log?.error({ err: toDistkvError(err).message }, 'periodic commit log sync failed');
      })
      .finally(() => {
        this.writing = false;
        if (this.dirtyMembers.size > 0 || this.bases.length > 0) void this.drain();
      });
  }

  private async roll(): Promise<void> {
    if (this.opts.durability !== 'fsync') await this.syncNow();
    // The new segment must be whole before the current one is let go (see createSegment).
    const current = this.all[this.all.length - 1]!;
    const next = await this.createSegment(current.no + 1);
    const old = this.file;
    this.file = next.file;
    this.all.push(next.seg);
    await old.close();
  }

  /** createSegment creates segment `no` with its header, synced; on failure it removes what it made and throws. */
  private async createSegment(no: number): Promise<{ file: WritableFile; seg: LogSegment }> {
    const path = join(this.opts.dir, segmentName(no));
    const file = await this.opts.vfs.openAppend(path, true);
    try {
      await file.append(encodeLogHeader(no));
      await file.sync();
      this.opts.vfs.syncDir(this.opts.dir);
    } catch (err) {
      await file.close().catch(() => undefined);
      try {
        this.opts.vfs.unlink(path);
      } catch {
        // Left behind, it is a newest segment without a whole header: recovery deletes it.
      }
      throw err;
    }
    return { file, seg: { no, path, bytes: LOG_HEADER_BYTES, stores: new Map() } };
  }
}
