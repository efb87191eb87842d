/**
 * The spare segment of a worker's commit log (docs/commit-log-format.md, "Rolling"): the next
 * segment's file, prepared while the current one fills, so the log's writes land on blocks that are
 * already allocated, written and synced. An fdatasync after a write that grows a file must commit
 * the inode's new size and extents through the file system's journal; one after a write over such
 * blocks only flushes the data (docs/performance.md, "Pre-zeroed segments").
 *
 * The spare is the file SPARE_NAME in the log's directory: not a segment name, so recovery never
 * reads it, and a leftover one (a crash while it was prepared or waiting) is deleted when the log
 * opens. It is filled with zeros to the segment size SPARE_CHUNK_BYTES at a time, each chunk
 * written through the thread pool and synced (never holding the worker's thread, and never one
 * burst of 64 MiB for the disk), and is ready once all of it is synced. The fill is paced: a chunk
 * is written only while the spare holds less than its allowance, which the log raises after each
 * of its batches settles (commit-log-roll.ts keeps it a little ahead of the current segment's way
 * to its roll), so the chunks' syncs are spread over the segment's fill instead of sharing the disk
 * with the log's fdatasyncs back to back, and each starts just after one of the log's syncs
 * completed. A roll takes a ready spare
 * (commit-log-segments.ts, `rollSegment`); without one it creates the segment as before: the spare
 * is an optimisation, never a dependency, and a failure to prepare one is logged and forgotten.
 *
 * A spare takes a segment's worth of disk ahead of need, and while it is filled it competes with
 * the log's own writes for the last free bytes: so one is prepared only while the disk has room
 * for two segments (SPARE_ROOM_SEGMENTS); on a fuller disk the rolls create segments as before.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import { toDistkvError } from '../errors.js';
import type { Vfs, WritableFile } from './vfs.js';

/** SPARE_NAME is the spare's file name in the log directory (not a segment name; it sorts before them, as `.log-id` does). */
export const SPARE_NAME = '.spare-segment';
/**
 * SPARE_CHUNK_BYTES is how much of the spare one write fills (and one sync makes durable). Each
 * chunk's sync shares the disk with the log's own fdatasyncs: with 4 MiB chunks a replica's lag p99
 * (bench/replication-bench.ts lag-local) rose from 4-5 ms to 7-21 ms while a spare was filled; with
 * 1 MiB it was 3.1-3.4 ms (docs/performance.md, "This round together, on a quiet machine").
 */
export const SPARE_CHUNK_BYTES = 1024 * 1024;

/** SPARE_ROOM_SEGMENTS is how many segments' worth of free disk a spare needs before it is prepared. */
export const SPARE_ROOM_SEGMENTS = 2;

/** removeLeftoverSpare deletes a spare left by an earlier run (the log is opening). */
export function removeLeftoverSpare(vfs: Vfs, dir: string): void {
  const path = join(dir, SPARE_NAME);
  if (vfs.exists(path)) vfs.unlink(path);
}

/** SpareSegment prepares one spare at a time for a log. Used only on the log's worker thread. */
export class SpareSegment {
  private readonly vfs: Vfs;
  private readonly dir: string;
  private readonly bytes: number;
  private readonly log: Logger | undefined;
  /** preparing settles with the spare once it is ready (undefined: it failed or was cancelled). */
  private preparing: Promise<WritableFile | undefined> | undefined;
  private ready: WritableFile | undefined;
  /** skipped: this segment gets no spare (one failed, or the disk was too full); cleared by `take` at the roll. */
  private skipped = false;
  private closed = false;
  /** allowed is how many bytes the spare being prepared may hold so far (`allow`). */
  private allowed = 0;
  /** wake resumes a fill waiting for its allowance to grow (or for close). */
  private wake: (() => void) | undefined;
  /** prepared counts spares made ready; failed counts preparations that failed (for tests and /stats). */
  readonly counters = { prepared: 0, failed: 0 };

  constructor(vfs: Vfs, dir: string, bytes: number, log?: Logger) {
    this.vfs = vfs;
    this.dir = dir;
    this.bytes = bytes;
    this.log = log;
  }

  /** path is where the spare is prepared. */
  get path(): string {
    return join(this.dir, SPARE_NAME);
  }

  /**
   * start begins preparing a spare unless one is ready or under way, and says whether it did; if
   * the disk is too full for one, or preparing one fails, the current segment gets none (the next
   * roll creates its segment). Nothing is written until `allow` gives the fill an allowance.
   */
  start(): boolean {
    if (this.closed || this.skipped || this.preparing !== undefined || this.ready !== undefined) return false;
    if (!this.hasRoom()) {
      this.skipped = true;
      return false;
    }
    this.allowed = 0;
    const p = this.prepare().then((file) => {
      if (this.preparing === p) this.preparing = undefined;
      this.ready = file;
      return file;
    });
    this.preparing = p;
    return true;
  }

  /** isFilling says a spare is being prepared (started, not yet ready, failed or cancelled). */
  get isFilling(): boolean {
    return this.preparing !== undefined;
  }

  /** allow lets the fill write chunks while the spare holds less than `upTo` bytes (it never shrinks). */
  allow(upTo: number): void {
    if (upTo <= this.allowed) return;
    this.allowed = upTo;
    this.resume();
  }

  /** isReady says a spare is synced whole and waits for the next roll. */
  get isReady(): boolean {
    return this.ready !== undefined;
  }

  /** take returns the ready spare (synced whole, at SPARE_NAME) and forgets it, or undefined when none is ready. */
  take(): WritableFile | undefined {
    const file = this.ready;
    this.ready = undefined;
    this.skipped = false;
    return file;
  }

  /** close stops preparing (at the next chunk) and deletes the spare. */
  async close(): Promise<void> {
    this.closed = true;
    this.resume();
    await this.preparing;
    const file = this.take();
    if (file === undefined) return;
    await file.close();
    this.remove();
  }

  private async prepare(): Promise<WritableFile | undefined> {
    let file: WritableFile | undefined;
    try {
      file = await this.vfs.openAppend(this.path, true);
      while (file.size < this.bytes && !this.closed) {
        if (!(await this.allowance(file.size))) break;
        await file.appendZeros(Math.min(SPARE_CHUNK_BYTES, this.bytes - file.size));
        await file.sync();
      }
      if (!this.closed) {
        this.counters.prepared++;
        return file;
      }
    } catch (err) {
      this.counters.failed++;
      this.skipped = true;
      this.log?.warn(
        { err: toDistkvError(err).message, dir: this.dir },
        'could not prepare a spare commit log segment; the next roll creates one',
      );
    }
    await file?.close().catch(() => undefined);
    this.remove();
    return undefined;
  }

  /** allowance waits until the spare may hold more than `size` bytes; false when it was closed instead. */
  private async allowance(size: number): Promise<boolean> {
    while (size >= this.allowed && !this.closed)
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    return !this.closed;
  }

  private resume(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private hasRoom(): boolean {
    try {
      return this.vfs.freeBytes(this.dir) >= SPARE_ROOM_SEGMENTS * this.bytes;
    } catch {
      return false;
    }
  }

  private remove(): void {
    try {
      this.vfs.unlink(this.path);
    } catch {
      // Gone already (or the disk is gone); a leftover is deleted when the log opens.
    }
  }
}
