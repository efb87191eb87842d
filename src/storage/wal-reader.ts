/**
 * WAL recovery reading: checks every segment a restart needs, hands the records above a seq to the
 * caller, cuts a torn tail off the newest segment, and stops at corruption anywhere else with the
 * file and offset (or, with `repair`, keeps everything before the damage and reports what it dropped).
 *
 * A bad record in the newest segment is a torn tail (cut off, logged) when it runs past the end of
 * the file, ends exactly at the end, or the bytes from it to the end are all zero: a crash in
 * mid-append leaves exactly these. Any other bad record, a bad header, a seq out of order, or a missing segment
 * number is corruption.
 */
import { join } from 'node:path';
import { CorruptionError } from '../errors.js';
import type { Vfs } from './vfs.js';
import {
  decodeHeader,
  decodeRecord,
  type DecodedRecord,
  parseSegmentName,
  segmentName,
  WAL_HEADER_BYTES,
} from './wal-format.js';

/** SegmentInfo describes one segment after recovery. */
export interface SegmentInfo {
  no: number;
  path: string;
  firstSeq: number;
  /** lastSeq is the seq of its last record (firstSeq - 1 when empty). */
  lastSeq: number;
  bytes: number;
}

/** WalDamage reports what recovery cut off. */
export interface WalDamage {
  file: string;
  offset: number;
  reason: string;
  /** kind: a torn tail (expected after a crash) or corruption dropped by --repair. */
  kind: 'torn-tail' | 'repaired';
  droppedBytes: number;
  droppedSegments: number;
}

/** WalRecovery is the result of reading a WAL. */
export interface WalRecovery {
  segments: SegmentInfo[];
  /** lastSeq is the seq of the log's newest record (firstSeq - 1 of an empty newest segment; 0 without segments). */
  lastSeq: number;
  damage: WalDamage[];
}

/** ReadWalOptions configure readWal. */
export interface ReadWalOptions {
  /** afterSeq: records with seq ≤ afterSeq are durable elsewhere; only newer ones are delivered. */
  afterSeq: number;
  repair: boolean;
  onRecord: (record: DecodedRecord) => void;
}

function isZero(b: Buffer, from: number): boolean {
  for (let i = from; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/** listSegments returns the segment numbers in `dir`, ascending. */
export function listSegments(vfs: Vfs, dir: string): number[] {
  return vfs
    .list(dir)
    .map(parseSegmentName)
    .filter((n): n is number => n !== undefined)
    .sort((a, b) => a - b);
}

function segmentPath(dir: string, no: number): string {
  return join(dir, segmentName(no));
}

function readHeaderOf(vfs: Vfs, path: string): { header: ReturnType<typeof decodeHeader>; size: number } {
  const f = vfs.openRead(path);
  try {
    return { header: decodeHeader(f.readAt(0, WAL_HEADER_BYTES)), size: f.size };
  } finally {
    f.close();
  }
}

/** readWal reads the WAL in `dir` for recovery (see the module comment). */
export async function readWal(vfs: Vfs, dir: string, options: ReadWalOptions): Promise<WalRecovery> {
  const numbers = listSegments(vfs, dir);
  const segments: SegmentInfo[] = [];
  const damage: WalDamage[] = [];
  let expectSeq = -1;

  /** cut keeps segment i up to `offset` (deleting it when offset is 0) and deletes every later one. */
  const cut = async (i: number, offset: number, reason: string, kind: WalDamage['kind']): Promise<void> => {
    const path = segmentPath(dir, numbers[i]!);
    let droppedBytes = 0;
    for (const n of numbers.slice(i + 1)) {
      const p = segmentPath(dir, n);
      droppedBytes += readHeaderOf(vfs, p).size;
      vfs.unlink(p);
    }
    const size = readHeaderOf(vfs, path).size;
    droppedBytes += size - offset;
    if (offset === 0) vfs.unlink(path);
    else {
      const f = await vfs.openAppend(path, false);
      await f.truncate(offset);
      await f.sync();
      await f.close();
    }
    vfs.syncDir(dir);
    damage.push({
      file: path,
      offset,
      reason,
      kind,
      droppedBytes,
      droppedSegments: numbers.length - 1 - i + (offset === 0 ? 1 : 0),
    });
  };
  const corrupt = async (i: number, offset: number, reason: string): Promise<void> => {
    const path = segmentPath(dir, numbers[i]!);
    if (!options.repair)
      throw new CorruptionError(
        path,
        offset,
        `${reason} (restart with --repair to keep the log up to here and drop the rest)`,
      );
    await cut(i, offset, reason, 'repaired');
  };

  for (let i = 0; i < numbers.length; i++) {
    const no = numbers[i]!;
    const path = segmentPath(dir, no);
    const isLast = i === numbers.length - 1;
    if (i > 0 && no !== numbers[i - 1]! + 1) {
      await corrupt(i, 0, `segment ${numbers[i - 1]! + 1} is missing before this one`);
      break;
    }
    const { header, size } = readHeaderOf(vfs, path);
    if (typeof header === 'string') {
      if (isLast && (size < WAL_HEADER_BYTES || isZero(vfs.readFile(path), 0))) {
        await cut(i, 0, `incomplete segment header: ${header}`, 'torn-tail');
        break;
      }
      await corrupt(i, 0, header);
      break;
    }
    if (expectSeq >= 0 && header.firstSeq !== expectSeq) {
      await corrupt(
        i,
        0,
        `segment starts at seq ${header.firstSeq}; the previous one ended at ${expectSeq - 1}`,
      );
      break;
    }
    // A segment whose successor starts at or below afterSeq + 1 holds nothing to replay: its extent is enough.
    const next = isLast ? undefined : readHeaderOf(vfs, segmentPath(dir, numbers[i + 1]!)).header;
    if (next !== undefined && typeof next !== 'string' && next.firstSeq - 1 <= options.afterSeq) {
      segments.push({ no, path, firstSeq: header.firstSeq, lastSeq: next.firstSeq - 1, bytes: size });
      expectSeq = next.firstSeq;
      continue;
    }
    const buf = vfs.readFile(path);
    let seq = header.firstSeq;
    let offset = WAL_HEADER_BYTES;
    let stopped = false;
    while (offset < buf.length) {
      const r = decodeRecord(buf, offset);
      if (typeof r === 'string') {
        const reason = r === 'short' ? 'record runs past the end of the file' : r;
        const endsAtEof =
          r === 'short' || offset + 8 + buf.readUInt32LE(offset + 4) === buf.length || isZero(buf, offset);
        if (isLast && endsAtEof) await cut(i, offset, reason, 'torn-tail');
        else await corrupt(i, offset, reason);
        stopped = true;
        break;
      }
      if (r.seq !== seq) {
        await corrupt(i, offset, `record has seq ${r.seq}; expected ${seq}`);
        stopped = true;
        break;
      }
      if (r.seq > options.afterSeq) options.onRecord(r);
      seq++;
      offset += r.size;
    }
    segments.push({ no, path, firstSeq: header.firstSeq, lastSeq: seq - 1, bytes: offset });
    expectSeq = seq;
    if (stopped) break;
  }
  const newest = segments[segments.length - 1];
  return { segments, lastSeq: newest?.lastSeq ?? 0, damage };
}
