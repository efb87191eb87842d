/**
 * CommitLog: the one log of a worker thread, shared by every store it owns (docs/commit-log-format.md),
 * with group commit across all of them.
 *
 * Each store's StoreLog (store-log.ts) assigns its own seqs and encodes its records into a buffer of
 * its own; at the end of the event-loop turn the commit log takes every store's pending records,
 * writes them as one frame per store in ONE append and, with `durability = "fsync"`, ONE
 * fdatasync, then hands each store its part (the store applies and acknowledges it).
 *
 * Pipelining: a turn whose records arrive while earlier batches are still syncing does not wait
 * for them: up to MAX_IN_FLIGHT batches (one per turn) may be syncing at once; appends stay in
 * order, each fdatasync covers everything appended before it, and batches settle strictly in
 * order, so each store's writes resolve in seq order. In
 * `interval` mode writes are acknowledged after the append and a timer syncs every
 * `fsyncIntervalMs`; in `none` mode the OS decides (segments are still synced when sealed and at close).
 *
 * Failure: a batch whose append or sync fails is cut back off the file with every batch appended
 * after it, and every write in them or queued behind them in any store is refused with DISK_FULL
 * (507); each store's seq
 * counter rewinds to just after its last written record, so seqs stay gapless. New writes are then
 * refused for RETRY_MS, after which the next batch is tried normally.
 *
 * Retention: a sealed segment is deleted (oldest first) once no attached store needs it
 * (commit-log-retention.ts). Trimming starts only once every store of the worker is attached
 * (`startTrimming`).
 */
import type { Logger } from 'pino';
import type { Durability } from '../config/schema.js';
import { DistkvError, toDistkvError } from '../errors.js';
import { LatencyHistogram } from '../util/latency-histogram.js';
import { encodeBaseFrame, FRAME_HEADER_BYTES, FRAME_RECORDS, writeFrameHeader } from './commit-log-format.js';
import { indexFrame, type LogSegment, voidFrom } from './commit-log-index.js';
import type { LogMember, Pending } from './commit-log-member.js';
import { trimmable } from './commit-log-retention.js';
import { createSegment, openSegments } from './commit-log-segments.js';
import type { Vfs, WritableFile } from './vfs.js';

/** RETRY_MS is how long writes are refused after a failed batch before the next try. */
export const RETRY_MS = 500;

/** MAX_IN_FLIGHT is how many batches may be syncing at once (libuv's default thread pool size). */
export const MAX_IN_FLIGHT = 4;

interface Base {
  frame: Buffer;
  store: number;
  resolve: () => void;
  reject: (e: Error) => void;
}

interface Part {
  member: LogMember;
  part: Pending;
  at: number;
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
  /** logId is written into every segment header (commit-log-identity.ts). */
  private readonly logId: string;
  private file!: WritableFile;
  private readonly all: LogSegment[] = [];
  private readonly members = new Map<number, LogMember>();
  /** pinned are stores that could not open: every segment holding their records is kept. */
  private readonly pinned = new Set<number>();
  private readonly dirtyMembers = new Set<LogMember>();
  private bases: Base[] = [];
  private scheduled = false;
  /** taking: takeBatch is collecting the members' parts. */
  private taking = false;
  /** inFlight counts batches appended and not yet settled; completed settles after the newest. */
  private inFlight = 0;
  private completed: Promise<void> = Promise.resolve();
  private appendTail: Promise<void> = Promise.resolve();
  /** generation changes at every failure: batches of an older generation were refused with it. */
  private generation = 0;
  /** blocked: a roll or a cut is under way; no batch starts. */
  private blocked = false;
  private rollFailed = false;
  private syncing = false;
  /** end is the current segment's size once every batch started is appended. */
  private end = 0;
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

  private constructor(opts: CommitLogOptions, logId: string) {
    this.opts = opts;
    this.logId = logId;
  }

  /** open continues the newest segment or starts the next one. */
  static async open(opts: CommitLogOptions): Promise<CommitLog> {
    const opened = await openSegments(opts);
    const c = new CommitLog(opts, opened.logId);
    c.all.push(...opts.segments);
    if (opened.created !== undefined) c.all.push(opened.created);
    c.file = opened.file;
    c.end = c.file.size;
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

  /** id is the log's identity (commit-log-identity.ts), in hex. */
  get id(): string {
    return this.logId;
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
    // A member made pending while a batch is taken (a mirrored replica) joins that batch.
    if (!this.taking) this.schedule();
  }

  /** startTrimming allows deleting segments (once every store of the worker is attached). */
  startTrimming(): void {
    this.trimming = true;
  }

  /** flushAll waits until everything handed to the log has been written (and synced in fsync mode). */
  async flushAll(): Promise<void> {
    while (this.inFlight > 0 || this.scheduled || this.blocked || this.hasPending()) {
      if (this.inFlight > 0) await this.completed;
      else {
        if (!this.scheduled) this.pump();
        await new Promise((r) => setImmediate(r));
      }
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
    const n = trimmable(this.all, this.members.values(), this.pinned, this.opts.retentionBytes);
    if (n === 0) return 0;
    for (const s of this.all.splice(0, n)) this.opts.vfs.unlink(s.path);
    this.opts.vfs.syncDir(this.opts.dir);
    return n;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private hasPending(): boolean {
    return this.dirtyMembers.size > 0 || this.bases.length > 0;
  }

  /**
   * pump starts batches while records are pending and fewer than MAX_IN_FLIGHT are being synced.
   * Appends are in order; their fdatasyncs overlap (each covers everything written before it), and
   * batches complete in order (`settle`). A full segment is rolled once nothing is in flight.
   */
  private pump(): void {
    if (this.blocked || this.closed) return;
    if (this.cutTo !== undefined) {
      this.retryCut();
      return;
    }
    if (this.end >= this.opts.segmentBytes && !this.rollFailed) {
      if (this.inFlight === 0) this.rollNow();
      return;
    }
    // Everything pending (every store's records of the turn) goes into one batch: one fdatasync.
    if (this.inFlight < MAX_IN_FLIGHT && this.hasPending()) this.startBatch();
  }

  private takeBatch(): { batch: Buffer; parts: Part[]; bases: Base[] } {
    const bases = this.bases;
    this.bases = [];
    const parts: Part[] = [];
    let size = bases.reduce((n, b) => n + b.frame.length, 0);
    this.taking = true;
    try {
      // A member added back while this runs (a replica fed by a leader's take, store-log.ts) is
      // visited again: Set iteration reaches entries added during it.
      for (const member of this.dirtyMembers) {
        this.dirtyMembers.delete(member);
        const part = member.take();
        if (part === undefined) continue;
        parts.push({ member, part, at: size });
        size += FRAME_HEADER_BYTES + part.records.length;
      }
    } finally {
      this.taking = false;
    }
    const batch = Buffer.allocUnsafe(size);
    let at = 0;
    for (const b of bases) at += b.frame.copy(batch, at);
    for (const p of parts) {
      writeFrameHeader(batch, p.at, FRAME_RECORDS, p.member.id, p.part.epoch, p.part.records.length);
      p.part.records.copy(batch, p.at + FRAME_HEADER_BYTES);
    }
    return { batch, parts, bases };
  }

  private startBatch(): void {
    const generation = this.generation;
    const { batch, parts, bases } = this.takeBatch();
    const file = this.file;
    const seg = this.all[this.all.length - 1]!;
    // The append runs after those queued before it: its offset is the end they leave.
    const before = this.end;
    this.end += batch.length;
    const sync = this.opts.durability === 'fsync' || bases.length > 0;
    this.inFlight++;
    // Appends are issued in order (the previous one has returned before this one starts).
    const appended = this.appendTail.then(() => file.append(batch));
    this.appendTail = appended.catch(() => undefined);
    const work = appended.then(() => (sync ? this.timedSync(file) : undefined));
    const previous = this.completed;
    this.completed = work
      .then(
        () => undefined,
        (err: unknown) => err ?? new Error('commit log write failed'),
      )
      .then(async (err) => {
        await previous;
        this.inFlight--;
        try {
          await this.settle(err, generation, {
            batch,
            parts,
            bases,
            seg,
            before,
            sync,
            size: before + batch.length,
          });
        } catch (settleErr) {
          // Settling only hands records to the stores; a throwing listener must not stall the log.
          this.opts.log?.error(
            { err: toDistkvError(settleErr).message },
            'commit log: settling a batch failed',
          );
        }
        this.pump();
      });
  }

  /** settle finishes a batch, in batch order: acknowledges it, or refuses it and everything after it. */
  private async settle(
    err: unknown,
    generation: number,
    b: {
      batch: Buffer;
      parts: Part[];
      bases: Base[];
      seg: LogSegment;
      before: number;
      sync: boolean;
      size: number;
    },
  ): Promise<void> {
    if (generation !== this.generation) {
      // A batch before this one failed: its stores were refused (and rewound) with it.
      for (const x of b.bases)
        x.reject(this.failure ?? new DistkvError('DISK_FULL', 'commit log write failed'));
      return;
    }
    if (err !== undefined) {
      await this.fail(err, b.before, b.bases);
      return;
    }
    this.failure = undefined;
    b.seg.bytes = Math.max(b.seg.bytes, b.size);
    this.counters.batches++;
    if (!b.sync) this.dirty = true;
    for (const x of b.bases) x.resolve();
    for (const p of b.parts) {
      const body = p.at + FRAME_HEADER_BYTES;
      const records = b.batch.subarray(body, body + p.part.records.length);
      indexFrame(b.seg, p.member.id, b.before + p.at, p.part.first, p.part.last);
      this.counters.records += p.part.last - p.part.first + 1;
      const part = { records, first: p.part.first, last: p.part.last, epoch: p.part.epoch };
      // Each store gets its part whatever another one does with its own.
      try {
        p.member.written(part);
      } catch (err) {
        this.isolate(p.member, part, err);
      }
    }
    if (b.sync && this.opts.durability !== 'fsync')
      for (const m of this.members.values()) m.synced(m.writtenSeq);
    this.rollFailed = false;
  }

  /** isolate takes a store whose `written` threw out of the batches' hand-over, logged (LogMember.isolate). */
  private isolate(member: LogMember, part: Pending, err: unknown): void {
    const e = toDistkvError(err);
    this.opts.log?.error(
      { err: e.message, store: member.id, first: part.first, last: part.last },
      'commit log: a store failed to take its written records; it refuses writes until reopened',
    );
    try {
      member.isolate(
        part,
        new DistkvError(
          'UNAVAILABLE',
          `store ${member.id} failed to take its written records (seqs ${part.first}..${part.last}: ${e.message}); it refuses writes until it is reopened`,
          { cause: err },
        ),
      );
    } catch (isolateErr) {
      this.opts.log?.error(
        { err: toDistkvError(isolateErr).message, store: member.id },
        'commit log: isolating a failed store failed',
      );
    }
  }

  private rollNow(): void {
    this.blocked = true;
    this.roll()
      .catch((err: unknown) => {
        // The current segment keeps taking writes; rolling is retried after the next batch.
        this.rollFailed = true;
        this.opts.log?.error(
          { err: toDistkvError(err).message },
          'could not start a new commit log segment; continuing in the current one',
        );
      })
      .finally(() => {
        this.blocked = false;
        this.pump();
      });
  }

  /** retryCut cuts a failed batch off before anything else is written; if it still fails, what is pending is refused. */
  private retryCut(): void {
    const to = this.cutTo;
    if (to === undefined) return;
    this.blocked = true;
    void (async () => {
      try {
        await this.file.truncate(to);
        await this.file.sync();
        this.cutTo = undefined;
      } catch (err) {
        await this.fail(err, to, this.bases.splice(0));
      }
    })()
      .catch((err: unknown) => {
        this.opts.log?.error({ err: toDistkvError(err).message }, 'commit log: retrying a cut failed');
      })
      .finally(() => {
        this.blocked = false;
        if (this.cutTo === undefined) this.pump();
      });
  }

  /** timedSync fsyncs `file` for a batch, counting and timing it. */
  private async timedSync(file: WritableFile): Promise<void> {
    const t0 = performance.now();
    await file.sync();
    const ms = performance.now() - t0;
    this.counters.syncs++;
    this.counters.syncMsTotal += ms;
    this.syncSeconds.observe(ms / 1000);
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

  /** fail refuses a failed batch and everything after it, in every store, and cuts it back off the file. */
  private async fail(err: unknown, before: number, bases: readonly Base[]): Promise<void> {
    const e = toDistkvError(err);
    const refusal = new DistkvError(
      'DISK_FULL',
      `commit log write failed (${e.message}); writes are refused until the disk accepts them again`,
      { cause: err },
    );
    this.failure = refusal;
    this.failedAt = Date.now();
    this.generation++;
    this.counters.failures++;
    this.opts.log?.error(
      { err: e.message, dir: this.opts.dir },
      'commit log write failed; refusing writes and retrying',
    );
    // Everything written or queued behind the failed batch carries later seqs: refuse it too, in
    // every store (each rewinds to just after its last acknowledged record).
    for (const m of this.members.values()) m.failed(refusal);
    for (const m of this.dirtyMembers) m.failed(refusal);
    this.dirtyMembers.clear();
    for (const b of bases) b.reject(refusal);
    for (const b of this.bases.splice(0)) b.reject(refusal);
    // Cut the refused batches back off so the log never holds a record that was not acknowledged.
    this.blocked = true;
    this.end = before;
    try {
      await this.file.truncate(before);
      await this.file.sync();
    } catch (cutErr) {
      this.cutTo = before;
      this.opts.log?.error(
        { err: toDistkvError(cutErr).message },
        'could not cut a failed batch off the commit log; will cut it before the next write',
      );
    } finally {
      this.blocked = false;
    }
  }

  private intervalSync(): void {
    if (!this.dirty || this.syncing || this.closed) return;
    this.syncing = true;
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
        this.syncing = false;
      });
  }

  private async roll(): Promise<void> {
    if (this.opts.durability !== 'fsync') await this.syncNow();
    // The new segment must be whole before the current one is let go (commit-log-segments.ts).
    const current = this.all[this.all.length - 1]!;
    const next = await createSegment(this.opts.vfs, this.opts.dir, current.no + 1, this.logId);
    const old = this.file;
    this.file = next.file;
    this.end = next.file.size;
    this.all.push(next.seg);
    await old.close();
  }
}
