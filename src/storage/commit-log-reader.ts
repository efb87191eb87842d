/**
 * Commit log recovery reading: checks every segment, hands each store's records (and base frames)
 * to the caller in log order, builds the per-segment index, cuts a torn tail off the newest segment
 * and stops at corruption anywhere else with the file and offset (or, with `repair`, keeps
 * everything before the damage and reports what it dropped).
 *
 * The rule is the WAL's (docs/wal-format.md, "Torn tail or corruption"), per frame: a bad frame in
 * the newest segment is a torn tail, cut off, unless something after it shows that acknowledged
 * records lie behind it; then it is corruption. What shows it depends on the segment's version:
 * - version 3 (sync marks, commit-log-format.ts): a bad spot at offset D is corruption only if a
 *   valid mark after D says `syncedThrough > D`. Why this is right: a mark reports only an
 *   fdatasync that had completed when its batch was laid out, and an fdatasync covers every byte
 *   written before it, so `syncedThrough > D` proves the bytes at D were once durable, and a
 *   power cut cannot take durable bytes back: it is damage to history. Otherwise no completed
 *   sync is known to have covered D: everything from D on belongs to batches whose sync had not
 *   completed (never acknowledged in `fsync` mode; in `interval` and `none` mode, writes the
 *   mode lets a power cut take), however their pages reached the disk (writes over a
 *   preallocated segment's blocks can land out of order: a later page of an in-flight batch
 *   without an earlier one), and it is cut at D as a torn tail. An acknowledged batch is covered
 *   by the mark of every batch laid out after it settled (batches settle in order, and settling
 *   a synced batch moves the log's durable end past it); so only real damage to the last few
 *   batches before a crash, those followed only by batches laid out while they were syncing, is
 *   read as a torn tail, as damage to a growing file's last frame always was.
 * - versions 1 and 2 (no marks): any valid frame after the bad one makes it corruption. "Valid"
 *   means a frame whose header passes its CRC and whose body starts with a record that passes its
 *   CRC (or is a whole base or mark frame).
 * A record out of its store's seq order, a bad older segment, a missing segment number or a
 * segment of another log (commit-log-identity.ts) is always corruption. So is what no crash
 * leaves (docs/commit-log-format.md, "A log removed or emptied by hand"): a segment without a
 * whole header, the newest one too (a segment takes its name only once its header is synced:
 * commit-log-segments.ts), and a directory whose `.log-id` says a log lived there but that holds
 * no segment (the log never deletes its newest one, and writes `.log-id` only once a segment is
 * whole). Both hold only where `.log-id` carries the mark `whole=N` (commit-log-identity.ts): for
 * segments numbered N or above, and for a `.log-id` alone. Below N, or without the mark, the log
 * may have been written by an earlier build, which named a segment before writing its header and
 * wrote `.log-id` before its first segment: a newest segment without a whole header is read as
 * that build read it (a torn creation, cut, unless a valid frame follows), and an unmarked
 * `.log-id` alone as a new log. Mark frames are checked and skipped: they belong to no store.
 *
 * Zeros from the end of a frame to the end of the newest segment are its clean end, not damage: the
 * unwritten rest of a preallocated segment (commit-log-spare.ts) after a crash. The segment's
 * `bytes` is then its logical end (the log cuts the file there when it opens). A bad frame before
 * them is judged as usual; no frame can start inside them (a frame header's kind is not 0), so the
 * search for a later valid frame stops where they begin.
 *
 * `readOnly` reads another worker's log (a store that moved): nothing is cut, reading stops at the
 * first damage, and the damage is reported as a torn tail of that log.
 */
import { join } from 'node:path';
import {
  decodeBase,
  decodeFrameHeader,
  decodeLogHeader,
  decodeMark,
  FRAME_BASE,
  FRAME_HEADER_BYTES,
  FRAME_MARK,
  FRAME_RECORDS,
  LOG_HEADER_BYTES,
  LOG_ID_FILE,
} from './commit-log-format.js';
import { LogIdentity, readLogId } from './commit-log-identity.js';
import { indexFrame, type LogSegment, voidFrom } from './commit-log-index.js';
import { DamageRecorder, type LaterValid, replayFailed, type WalDamage } from './log-damage.js';
import type { Vfs } from './vfs.js';
import { type DecodedRecord, decodeRecord, segmentName } from './wal-format.js';
import { listSegments } from './wal-reader.js';

/** ReadLogOptions configure readCommitLog. */
export interface ReadLogOptions {
  repair: boolean;
  readOnly?: boolean;
  /** onRecord receives every record of every store in log order (`r.epoch` is its frame's), with its segment's path. */
  onRecord: (store: number, r: DecodedRecord, segment: string) => void;
  /** onBase receives every base frame: the store's next record has seq `nextSeq`. */
  onBase: (store: number, nextSeq: number) => void;
  /**
   * onProgress, when set, hears before the first segment is read and after each frame how many
   * bytes of the log have been read of its total (the segments' sizes; the newest counted to its
   * data's end once read).
   */
  onProgress?: (bytes: number, total: number) => void;
}

/** LogRecovery is the result of reading a commit log. */
export interface LogRecovery {
  segments: LogSegment[];
  /** nextSeqs is, per store id, the seq its next record must carry. */
  nextSeqs: Map<number, number>;
  damage: WalDamage[];
}

/** ZERO_PROBE_BYTES is how much of a segment's end endOfData compares with zeros at once. */
const ZERO_PROBE_BYTES = 64 * 1024;

/** endOfData returns the offset after the last byte of `b` that is not zero (0 when all are). */
export function endOfData(b: Buffer): number {
  const zeros = Buffer.alloc(Math.min(ZERO_PROBE_BYTES, b.length));
  let end = b.length;
  while (end >= zeros.length && zeros.length > 0 && b.subarray(end - zeros.length, end).equals(zeros))
    end -= zeros.length;
  while (end > 0 && b[end - 1] === 0) end--;
  return end;
}

/** findLaterFrame looks for a valid frame starting at any offset in [from, limit); returns where it is. */
function findLaterFrame(b: Buffer, from: number, limit = b.length): LaterValid | undefined {
  for (let p = from; p + FRAME_HEADER_BYTES <= b.length && p < limit; p++) {
    const h = decodeFrameHeader(b, p);
    if (typeof h === 'string') continue;
    if (h.kind !== FRAME_RECORDS || typeof decodeRecord(b, p + FRAME_HEADER_BYTES) !== 'string')
      return { offset: p, what: 'a valid frame' };
  }
  return undefined;
}

/**
 * findCoveringMark looks in [at + 1, limit) for a valid mark saying the segment was synced past
 * bad spot `at` (the rule for a version 3 segment, see the module comment); returns where it is.
 * A frame whose header is valid and that ends within the data is stepped over whole, so the search
 * costs a step per frame.
 */
function findCoveringMark(b: Buffer, at: number, limit: number): LaterValid | undefined {
  for (let p = at + 1; p + FRAME_HEADER_BYTES <= b.length && p < limit;) {
    const h = decodeFrameHeader(b, p);
    if (typeof h === 'string') {
      p++;
      continue;
    }
    const synced = h.kind === FRAME_MARK ? decodeMark(b, p + FRAME_HEADER_BYTES) : 0;
    if (synced > at)
      return { offset: p, what: `a sync mark saying the segment was synced through offset ${synced}` };
    // A frame that would run past the data (a torn one, or a header matched by chance) is not stepped over.
    const end = p + FRAME_HEADER_BYTES + h.len;
    p = end <= limit ? end : p + 1;
  }
  return undefined;
}

/**
 * checkFrame decodes the records of the frame body [start, end) of `b`, or returns why it cannot
 * (with the offset of the damage).
 */
function checkFrame(
  b: Buffer,
  start: number,
  end: number,
): DecodedRecord[] | { offset: number; reason: string } {
  const out: DecodedRecord[] = [];
  const body = b.subarray(0, end);
  for (let r = start; r < end;) {
    const rec = decodeRecord(body, r);
    if (typeof rec === 'string')
      return { offset: r, reason: rec === 'short' ? 'record runs past the end of its frame' : rec };
    out.push(rec);
    r += rec.size;
  }
  if (out.length === 0) return { offset: start, reason: 'a records frame holds no record' };
  return out;
}

/** LOG_GONE_REMEDY is what the operator can do about a log whose segments were all removed. */
const LOG_GONE_REMEDY =
  "put the segments back, or restart with --repair to open each of those stores from its own files (runs and LMDB) without those writes: a replica then catches up from its leader; a leader's are lost unless a replica holds them (fail over to it first, docs/failover.md)";

/** HEADER_LOST_REMEDY is what the operator can do about a segment emptied or damaged by hand. */
const HEADER_LOST_REMEDY =
  "put the segment back, or restart with --repair to keep the log up to the segment before it and drop this one and every later one: a replica then catches up from its leader; a leader's writes in them are lost unless a replica holds them (fail over to it first, docs/failover.md)";

/**
 * headerLost says why segment `buf`, whose header does not decode (`why`), is damage: a segment
 * is named only once its header is durable, so no crash leaves one without it; it was emptied,
 * cut or overwritten after it was made, and what it held is gone.
 */
function headerLost(buf: Buffer, why: string): string {
  const what =
    buf.length === 0
      ? 'the segment is empty'
      : `the segment has no valid header (${why}; the file is ${buf.length} bytes)`;
  const later = findLaterFrame(buf, 0);
  const frames = later === undefined ? '' : `, though ${later.what} follows at offset ${later.offset}`;
  return `${what}${frames}. A segment is named only once its header is synced, so no crash leaves it so: it was emptied or damaged by hand, and the writes it held, acknowledged to every store of this worker (leaders and replicas), are in no other file: each of those stores is refused`;
}

/** sizeOf is the total size of the files at `paths`. */
function sizeOf(vfs: Vfs, paths: readonly string[]): number {
  let n = 0;
  for (const p of paths) {
    const f = vfs.openRead(p);
    n += f.size;
    f.close();
  }
  return n;
}

/** readCommitLog reads the commit log in `dir` for recovery (see the module comment). */
export async function readCommitLog(vfs: Vfs, dir: string, options: ReadLogOptions): Promise<LogRecovery> {
  const numbers = listSegments(vfs, dir);
  const segments: LogSegment[] = [];
  const nextSeqs = new Map<number, number>();
  const pathOf = (no: number): string => join(dir, segmentName(no));
  const recorder = new DamageRecorder({
    vfs,
    dir,
    paths: numbers.map(pathOf),
    repair: options.repair,
    readOnly: options.readOnly,
  });
  const idFile = readLogId(vfs, dir);
  // Without the mark, `.log-id` may be an earlier build's, written before its first segment: a
  // crash between the two left it alone, and the log starts as new (commit-log-identity.ts).
  if (numbers.length === 0 && idFile?.whole !== undefined)
    recorder.gone(
      `no commit log segment is left, but ${LOG_ID_FILE} says log ${idFile.id} lived here (segments from ${idFile.first} on). A log never deletes its newest segment and writes ${LOG_ID_FILE} only once a segment is whole, so its segments were removed by hand, and the writes every store of this worker (leaders and replicas) acknowledged since its last flush were only in them: each of those stores is refused`,
      LOG_GONE_REMEDY,
    );
  const identity = new LogIdentity(idFile);
  const progress = options.onProgress;
  let total = progress === undefined ? 0 : sizeOf(vfs, numbers.map(pathOf));
  let before = 0;
  // The total before the first segment is read: a large one takes a while.
  progress?.(0, total);

  for (let i = 0; i < numbers.length; i++) {
    const no = numbers[i]!;
    const path = pathOf(no);
    const isLast = i === numbers.length - 1;
    if (i > 0 && no !== numbers[i - 1]! + 1) {
      await recorder.corrupt(i, 0, `segment ${numbers[i - 1]! + 1} is missing before this one`);
      break;
    }
    const buf = vfs.readFile(path);
    const header = decodeLogHeader(buf);
    if (typeof header === 'string') {
      if (idFile?.whole !== undefined && no >= idFile.whole)
        // Never a torn creation: this build names a segment once its header is durable (commit-log-segments.ts).
        await recorder.corrupt(i, 0, headerLost(buf, header), HEADER_LOST_REMEDY);
      else {
        // An earlier build's segment: made under its name, then its header written, so the newest
        // one may be a torn creation, cut unless a valid frame follows (the rule that build applied).
        const later = isLast ? findLaterFrame(buf, 0) : undefined;
        await recorder.damaged(i, 0, header, later, `incomplete segment header: ${header}`);
      }
      break;
    }
    const foreign =
      header.segmentNo === no
        ? identity.check(no, header.logId)
        : `segment header names segment ${header.segmentNo}: it was copied in under another name`;
    if (foreign !== undefined) {
      await recorder.corrupt(i, 0, foreign);
      break;
    }
    const seg: LogSegment = {
      no,
      path,
      logId: header.logId,
      marked: header.marked,
      bytes: LOG_HEADER_BYTES,
      stores: new Map(),
    };
    let offset = LOG_HEADER_BYTES;
    let stopped = false;
    // Past dataEnd the newest segment holds only zeros: its clean end (see the module comment).
    const dataEnd = isLast ? endOfData(buf) : buf.length;
    if (isLast) total -= buf.length - dataEnd;
    while (offset < dataEnd) {
      const h = decodeFrameHeader(buf, offset);
      const end = typeof h === 'string' ? offset : offset + FRAME_HEADER_BYTES + h.len;
      const recs =
        typeof h === 'string' || h.kind !== FRAME_RECORDS
          ? []
          : checkFrame(buf, offset + FRAME_HEADER_BYTES, end);
      const bad =
        typeof h === 'string'
          ? h === 'short'
            ? 'frame runs past the end of the file'
            : h
          : 'offset' in recs
            ? recs.reason
            : undefined;
      if (bad !== undefined) {
        const later = seg.marked
          ? findCoveringMark(buf, offset, dataEnd)
          : findLaterFrame(buf, offset + 1, dataEnd);
        await recorder.damaged(i, offset, bad, later);
        stopped = true;
        break;
      }
      const frame = h as Exclude<typeof h, string>;
      if (frame.kind === FRAME_MARK) {
        // A sync mark: read only when a bad spot is judged (findCoveringMark).
      } else if (frame.kind === FRAME_BASE) {
        const nextSeq = decodeBase(buf, offset + FRAME_HEADER_BYTES);
        nextSeqs.set(frame.store, nextSeq);
        voidFrom([...segments, seg], frame.store, nextSeq);
        options.onBase(frame.store, nextSeq);
      } else {
        const list = recs as DecodedRecord[];
        const expect = nextSeqs.get(frame.store);
        if (expect !== undefined && list[0]!.seq !== expect) {
          await recorder.corrupt(
            i,
            offset,
            `store ${frame.store}: record has seq ${list[0]!.seq}; expected ${expect}`,
          );
          stopped = true;
          break;
        }
        for (let k = 1; k < list.length; k++)
          if (list[k]!.seq !== list[k - 1]!.seq + 1) {
            await recorder.corrupt(
              i,
              offset,
              `store ${frame.store}: seq ${list[k]!.seq} follows ${list[k - 1]!.seq} in one frame`,
            );
            stopped = true;
            break;
          }
        if (stopped) break;
        for (const r of list) {
          r.epoch = frame.epoch;
          try {
            options.onRecord(frame.store, r, path);
          } catch (err) {
            throw replayFailed(err, path, offset, r.seq);
          }
        }
        const last = list[list.length - 1]!.seq;
        nextSeqs.set(frame.store, last + 1);
        indexFrame(seg, frame.store, offset, list[0]!.seq, last);
      }
      offset = end;
      progress?.(before + offset, total);
    }
    before += buf.length;
    seg.bytes = offset;
    segments.push(seg);
    if (stopped) break;
  }
  return { segments, nextSeqs, damage: recorder.damage };
}
