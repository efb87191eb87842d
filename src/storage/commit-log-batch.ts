/**
 * One batch of a worker's commit log (commit-log-writer.ts; docs/commit-log-format.md, "Writing"):
 * what the log takes at the end of a turn, and what it hands back once the batch is written. A batch
 * is a sync mark (how far the segment was synced when it was laid out, commit-log-format.ts), the
 * base frames of the stores attaching (CommitLog.attach), then one records frame per store with
 * records pending (its part, `LogMember.take`), laid out in one buffer for one append.
 * Once the batch is written, each part is indexed in its segment and handed to its store
 * (`LogMember.written`); a store whose hand-over throws is isolated (`LogMember.isolate`) and
 * logged, and the others get their parts all the same.
 *
 * A batch's buffer is a piece of a larger slab (slab-pieces.ts), not an allocation of its own: one
 * `allocUnsafe` per batch (an ArrayBuffer for the collector to track and sweep) was 5 % of a shard
 * worker's CPU at 25 PUTs per batch (docs/performance.md, "The commit log's batches carved from
 * slabs"). A piece is handed out once and never written after its batch is laid out, so a view of
 * it stays valid while it is held; a slab lives while any piece of it is. Nothing holds a batch
 * for long: the stores keep their own copies of their parts for replicas (store-log-kept.ts), so
 * a slab is let go once its batches are written and synced (commit-log-unsynced.ts keeps those of
 * the current sync interval).
 */
import type { Logger } from 'pino';
import { DistkvError, toDistkvError } from '../errors.js';
import {
  FRAME_HEADER_BYTES,
  FRAME_RECORDS,
  MARK_FRAME_BYTES,
  writeFrameHeader,
  writeMarkFrame,
} from './commit-log-format.js';
import { indexFrame, type LogSegment } from './commit-log-index.js';
import type { LogMember, Pending } from './commit-log-member.js';
import { SlabPieces } from './slab-pieces.js';

/** BATCH_SLAB_BYTES is the size of the slabs batches are carved from; a batch over a quarter of it gets a buffer of its own. */
export const BATCH_SLAB_BYTES = 1024 * 1024;

/** batchSlabs is where a log's batches are laid out: 8-byte aligned pieces, as allocations are. */
export function batchSlabs(): SlabPieces {
  return new SlabPieces(BATCH_SLAB_BYTES, 8);
}

/** Base is a store's base frame (CommitLog.attach) waiting for its batch. */
export interface Base {
  frame: Buffer;
  store: number;
  resolve: () => void;
  reject: (e: Error) => void;
}

/** Part is a member's part of a batch, its frame at offset `at` of the batch. */
export interface Part {
  member: LogMember;
  part: Pending;
  at: number;
}

/** Batch is one batch laid out for its append: its bytes, and the parts and base frames in it. */
export interface Batch {
  batch: Buffer;
  parts: Part[];
  bases: Base[];
}

/**
 * Appended is a batch placed at offset `before` of segment `seg`, which it makes `size` bytes long
 * (`sync`: it is synced; `durableAtSync`: how far the segment was known durable when its fdatasync
 * was issued, what a failure of that fdatasync cannot have touched).
 */
export interface Appended extends Batch {
  seg: LogSegment;
  before: number;
  sync: boolean;
  size: number;
  durableAtSync: number;
}

/**
 * takeParts takes the part of every member in `dirty` (emptying it), their frames laid out after
 * the mark and `bases`; returns them and the batch's size.
 */
export function takeParts(dirty: Set<LogMember>, bases: readonly Base[]): { parts: Part[]; size: number } {
  const parts: Part[] = [];
  let size = bases.reduce((n, b) => n + b.frame.length, MARK_FRAME_BYTES);
  // A member added back while this runs (a replica fed by a leader's take, store-log.ts) is
  // visited again: Set iteration reaches entries added during it.
  for (const member of dirty) {
    dirty.delete(member);
    const part = member.take();
    if (part === undefined) continue;
    parts.push({ member, part, at: size });
    size += FRAME_HEADER_BYTES + part.records.length;
  }
  return { parts, size };
}

/**
 * layOut writes a mark saying `syncedThrough`, `bases`, then one records frame per part, into a
 * piece of `slabs` of `size` bytes: the batch.
 */
export function layOut(
  slabs: SlabPieces,
  syncedThrough: number,
  bases: readonly Base[],
  parts: readonly Part[],
  size: number,
): Buffer {
  const batch = slabs.take(size);
  writeMarkFrame(batch, 0, syncedThrough);
  let at = MARK_FRAME_BYTES;
  for (const b of bases) {
    batch.set(b.frame, at);
    at += b.frame.length;
  }
  for (const p of parts) {
    writeFrameHeader(batch, p.at, FRAME_RECORDS, p.member.id, p.part.epoch, p.part.records.length);
    // TypedArray set: one memmove, without Buffer.copy's argument checks per part.
    batch.set(p.part.records, p.at + FRAME_HEADER_BYTES);
  }
  return batch;
}

/**
 * handOver indexes each part of written batch `b` in its segment and hands it to its member (its
 * records a view of the batch), counting the records in `counters`.
 */
export function handOver(b: Appended, counters: { records: number }, log: Logger | undefined): void {
  for (const p of b.parts) {
    const body = p.at + FRAME_HEADER_BYTES;
    const records = b.batch.subarray(body, body + p.part.records.length);
    indexFrame(b.seg, p.member.id, b.before + p.at, p.part.first, p.part.last);
    counters.records += p.part.last - p.part.first + 1;
    const part = { records, first: p.part.first, last: p.part.last, epoch: p.part.epoch };
    // Each store gets its part whatever another one does with its own.
    try {
      p.member.written(part);
    } catch (err) {
      isolate(p.member, part, err, log);
    }
  }
}

/** isolate takes a store whose `written` threw out of the batches' hand-over, logged (LogMember.isolate). */
function isolate(member: LogMember, part: Pending, err: unknown, log: Logger | undefined): void {
  const e = toDistkvError(err);
  log?.error(
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
    log?.error(
      { err: toDistkvError(isolateErr).message, store: member.id },
      'commit log: isolating a failed store failed',
    );
  }
}
