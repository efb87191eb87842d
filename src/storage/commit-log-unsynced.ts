/**
 * UnsyncedBatches: the batches a commit log (commit-log-writer.ts) has written into its current
 * segment and not yet seen covered by a successful fdatasync, kept so that a failed sync loses none
 * of them (docs/commit-log-format.md, "Writing").
 *
 * Why: when fdatasync fails, Linux marks the dirty pages it could not write clean and forgets the
 * error once reported, so a later fdatasync succeeds without writing them. In durability
 * `interval` the batches were acknowledged already; a power cut would lose them behind records
 * synced later (recovery then refuses the segment as damaged). PostgreSQL, after finding the same
 * behaviour, stopped retrying fsync and recovers from its WAL instead; here the log itself is the
 * only copy, so the writer writes these bytes again over the same offsets (dirtying the pages
 * again) and syncs once more. If that sync fails too, the log refuses every write from then on.
 *
 * In `fsync` mode a batch's own successful fdatasync is not enough: another one running beside it
 * may fail having taken the error about its pages (docs/commit-log-format.md, "A failed fdatasync
 * beside another"), so a batch is kept until one whose fdatasync was issued after it was known
 * durable settles: a few batches past `synced`.
 *
 * Invariant: the kept batches are contiguous and cover `[from, end)` of the current segment, for
 * some `from` at or below commit-log-writer.ts's `synced` (`end` is the writer's). Each is the batch's buffer (a piece of a slab that
 * nothing writes into after layOut, commit-log-batch.ts). Memory: what one sync interval writes,
 * and the slabs those batches are pieces of (1 MiB each). Not kept
 * with durability `none`, which promises nothing before a segment is sealed. Used only on the
 * log's worker thread.
 */
import type { WritableFile } from './vfs.js';

interface Kept {
  at: number;
  bytes: Buffer;
}

/** UnsyncedBatches are the batches written and not yet synced in one segment file. */
export class UnsyncedBatches {
  private file: WritableFile | undefined;
  private kept: Kept[] = [];

  /** add keeps `bytes`, written at `at` of `file` (a new file drops what was kept for the old one: it was synced at the roll). */
  add(file: WritableFile, at: number, bytes: Buffer): void {
    if (file !== this.file) {
      this.file = file;
      this.kept = [];
    }
    this.kept.push({ at, bytes });
  }

  /** synced drops the batches of `file` that end at or before `offset` (an fdatasync covered them). */
  synced(file: WritableFile, offset: number): void {
    if (file !== this.file) return;
    let n = 0;
    while (n < this.kept.length && this.kept[n]!.at + this.kept[n]!.bytes.length <= offset) n++;
    if (n > 0) this.kept = this.kept.slice(n);
  }

  /** cut drops the batches at or after `offset` (refused and cut off the file). */
  cut(offset: number): void {
    this.kept = this.kept.filter((k) => k.at < offset);
  }

  /** endingWithin counts the kept batches that end past `from` and at or before `to`. */
  endingWithin(from: number, to: number): number {
    let n = 0;
    for (const k of this.kept) if (k.at + k.bytes.length > from && k.at + k.bytes.length <= to) n++;
    return n;
  }

  /** count is how many batches are kept. */
  get count(): number {
    return this.kept.length;
  }

  /**
   * rewrite writes every kept batch of `file` that lies below `below` again at its offset, one
   * after another (a batch is checked against `below()` just before its write: a cut meanwhile
   * lowers it). The caller syncs after.
   */
  async rewrite(file: WritableFile, below: () => number): Promise<void> {
    if (file !== this.file) return;
    for (const k of [...this.kept]) {
      if (k.at + k.bytes.length > below()) break;
      await file.writeAt(k.bytes, k.at);
    }
  }
}
