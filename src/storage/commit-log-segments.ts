/**
 * The segment files of a worker's commit log (docs/commit-log-format.md, "Where", "Identity",
 * "Writing"): opening the log for writing and creating its segments. The commit log (commit-log.ts)
 * appends its batches to the file these give it.
 *
 * At open the log takes its identity (the directory's `.log-id`, else its oldest identified
 * segment's, else a new one), then continues its newest segment when that one carries this log's
 * id and has room (synced once, as what recovery read may be only in the page cache), or else
 * starts the next one (after syncing the full one): a segment of an earlier format (without id, or
 * without sync marks) is never continued. Only then is the identity written back
 * (commit-log-identity.ts): a `.log-id` is never on disk without a whole segment beside it. It is
 * written with the mark `whole=N`, N the number of the segment the log now writes to (kept when an
 * earlier open set it): from N on, every segment is named only once its header is durable, so
 * recovery may refuse one without a whole header; below N (a log of an earlier build), not.
 *
 * A segment takes its name only once its header is durable: it is made as NEW_SEGMENT_NAME, its
 * header written and synced, then renamed to `NNNNNNNN.log` and the directory synced (as a spare
 * is). So a crash while a segment is made leaves at most a NEW_SEGMENT_NAME, deleted at the next
 * open, and recovery reads a segment file without a whole header as damage done by hand, never as
 * a torn creation (docs/commit-log-format.md, "A log removed or emptied by hand").
 *
 * Preallocation (commit-log-spare.ts): a roll makes the next segment out of a ready spare (header
 * written at offset 0 over its zeros and synced, the spare renamed to the segment's name, the
 * directory synced), else creates it as before. The segment it leaves has no zeros left: a roll
 * comes once its frames reach the segment size, the spare's size. The log seals its newest segment
 * (`sealAt`: cut to its last frame, synced) at a clean close, and at open (after a crash, zeros
 * follow its last frame: recovery read them as its clean end). So the zeros of a preallocated
 * segment only ever follow the frames of the newest one, and an opened log always continues its
 * newest segment by appending (only rolled-to segments are preallocated).
 */
import { join } from 'node:path';
import { encodeLogHeader, LOG_HEADER_BYTES, newLogId } from './commit-log-format.js';
import { readLogId, writeLogId } from './commit-log-identity.js';
import type { LogSegment } from './commit-log-index.js';
import { removeLeftoverSpare } from './commit-log-spare.js';
import type { Vfs, WritableFile } from './vfs.js';
import { segmentName } from './wal-format.js';

/**
 * NEW_SEGMENT_NAME is the file a segment is made in until its header is durable (createSegment):
 * not a segment name, so recovery never reads it; it sorts before the segments, as `.log-id` does.
 */
export const NEW_SEGMENT_NAME = '.new-segment';

/** SegmentsToOpen is where the log is and what recovery found of it. */
export interface SegmentsToOpen {
  vfs: Vfs;
  dir: string;
  segmentBytes: number;
  /** segments are the existing segments from recovery, oldest first. */
  segments: readonly LogSegment[];
}

/** openSegments opens the log for writing (see above): its id, the file to append to, and the segment created for it, if one was. */
export async function openSegments(
  o: SegmentsToOpen,
): Promise<{ logId: string; file: WritableFile; created: LogSegment | undefined }> {
  o.vfs.mkdirp(o.dir);
  removeLeftoverSpare(o.vfs, o.dir);
  removeLeftoverNew(o.vfs, o.dir);
  const identified = o.segments.find((s) => s.logId !== undefined);
  const idFile = readLogId(o.vfs, o.dir) ?? {
    id: identified?.logId ?? newLogId(),
    first: identified?.no ?? (o.segments[o.segments.length - 1]?.no ?? 0) + 1,
  };
  const logId = idFile.id;
  const opened = await openNewest(o, logId);
  // The segment now written to has a whole header (continued: recovery read it; or made whole
  // here), and every later one will be made whole: the mark, unless an earlier open set a lower one.
  const newestNo = opened.created?.no ?? o.segments[o.segments.length - 1]?.no ?? 1;
  try {
    // After the segment is whole: a marked `.log-id` without segments is a log whose segments were removed.
    await writeLogId(o.vfs, o.dir, { ...idFile, whole: idFile.whole ?? newestNo });
  } catch (err) {
    await opened.file.close().catch(() => undefined);
    throw err;
  }
  return { logId, ...opened };
}

/** openNewest continues the newest of `o.segments` or starts the next one (see the module comment). */
async function openNewest(
  o: SegmentsToOpen,
  logId: string,
): Promise<{ file: WritableFile; created: LogSegment | undefined }> {
  const newest = o.segments[o.segments.length - 1];
  if (newest !== undefined && newest.logId === logId && newest.marked && newest.bytes < o.segmentBytes) {
    const file = await o.vfs.openAppend(newest.path, false);
    await sealAt(file, newest.bytes);
    return { file, created: undefined };
  }
  if (newest !== undefined) {
    const full = await o.vfs.openAppend(newest.path, false);
    try {
      await sealAt(full, newest.bytes);
    } finally {
      await full.close();
    }
  }
  const next = await createSegment(o.vfs, o.dir, (newest?.no ?? 0) + 1, logId);
  return { file: next.file, created: next.seg };
}

/** removeLeftoverNew deletes a segment a crash left half made (NEW_SEGMENT_NAME; the log is opening). */
function removeLeftoverNew(vfs: Vfs, dir: string): void {
  const path = join(dir, NEW_SEGMENT_NAME);
  if (!vfs.exists(path)) return;
  vfs.unlink(path);
  vfs.syncDir(dir);
}

/**
 * sealAt cuts `file` to its logical end `end` when it is longer (the zeros of a preallocated
 * segment after its last frame) and syncs it.
 */
export async function sealAt(file: WritableFile, end: number): Promise<void> {
  if (file.size > end) await file.truncate(end);
  await file.sync();
}

/**
 * rollSegment starts segment `no` of log `logId` in `dir` from `spare` (a ready spare, see
 * commit-log-spare.ts) or, without one or if using it fails, as createSegment does.
 */
export async function rollSegment(
  vfs: Vfs,
  dir: string,
  no: number,
  logId: string,
  spare: WritableFile | undefined,
): Promise<{ file: WritableFile; seg: LogSegment; preallocated: boolean }> {
  if (spare !== undefined) {
    const path = join(dir, segmentName(no));
    try {
      await spare.writeAt(encodeLogHeader(no, logId), 0);
      await spare.sync();
      await spare.close();
      vfs.rename(spare.path, path);
      vfs.syncDir(dir);
      const file = await vfs.openAppend(path, false);
      return { file, seg: newSegment(no, path, logId), preallocated: true };
    } catch {
      await spare.close().catch(() => undefined);
      for (const p of [spare.path, path])
        try {
          vfs.unlink(p);
        } catch {
          // Not there (or the disk is gone): createSegment below reports what matters.
        }
    }
  }
  return { ...(await createSegment(vfs, dir, no, logId)), preallocated: false };
}

function newSegment(no: number, path: string, logId: string): LogSegment {
  return { no, path, logId, marked: true, bytes: LOG_HEADER_BYTES, stores: new Map() };
}

/**
 * createSegment creates segment `no` of log `logId` in `dir` with its header, synced, under its
 * name only once the header is durable (made as NEW_SEGMENT_NAME, then renamed); on failure it
 * removes what it made and throws.
 */
export async function createSegment(
  vfs: Vfs,
  dir: string,
  no: number,
  logId: string,
): Promise<{ file: WritableFile; seg: LogSegment }> {
  const path = join(dir, segmentName(no));
  const made = await vfs.openAppend(join(dir, NEW_SEGMENT_NAME), true);
  try {
    await made.append(encodeLogHeader(no, logId));
    await made.sync();
    await made.close();
    vfs.rename(made.path, path);
    vfs.syncDir(dir);
    const file = await vfs.openAppend(path, false);
    return { file, seg: newSegment(no, path, logId) };
  } catch (err) {
    await made.close().catch(() => undefined);
    for (const p of [made.path, path])
      try {
        if (vfs.exists(p)) vfs.unlink(p);
      } catch {
        // Left behind, NEW_SEGMENT_NAME is deleted at the next open; a named one is whole (its header synced).
      }
    throw err;
  }
}
