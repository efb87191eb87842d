/**
 * WAL recovery reading: checks every segment a restart needs, hands the records above a seq to the
 * caller, cuts a torn tail off the newest segment, and stops at corruption anywhere else with the
 * file and offset (or, with `repair`, keeps everything before the damage and reports what it dropped).
 *
 * The rule (docs/wal-format.md, "Torn tail or corruption"): a bad record in the newest segment with
 * no valid record after it is a torn tail, whatever the garbage looks like (random bytes, zeros, a
 * truncated record, an impossible length): a crash in mid-append leaves only unacknowledged bytes
 * behind the last good record, so it is cut off and reported. A bad record followed by a valid one
 * is corruption: acknowledged records lie behind the damage, so recovery refuses (naming file and
 * offset) unless `repair`. "Valid" means a record that passes its CRC and whose seq could follow
 * the bad point (see `findLaterRecord`). A newest segment whose header is bad is judged the same
 * way (a crash while starting it). A bad record in an older segment, a seq out of order or a
 * missing segment number is always corruption.
 */
import { join } from 'node:path';
import { DamageRecorder, type LaterValid, replayFailed, type WalDamage } from './log-damage.js';
import type { Vfs } from './vfs.js';
import {
  decodeHeader,
  decodeRecord,
  type DecodedRecord,
  MAX_RECORD_LEN,
  parseSegmentName,
  readU64,
  RECORD_FIXED_BYTES,
  RECORD_PREFIX_BYTES,
  recordSize,
  isRecordType,
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

// WalDamage lives beside the recorder that fills it; lsm-recovery.ts takes it from here.
export type { WalDamage } from './log-damage.js';

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

/** MIN_RECORD_BYTES is the size of the smallest record (empty key and value). */
const MIN_RECORD_BYTES = recordSize(0, 0);

/**
 * findLaterRecord looks for a valid record at any offset in `[from, b.length)` that could belong
 * after a damaged spot at offset `base` whose seq would have been `lowSeq`: its CRC passes and its
 * seq lies in `[lowSeq, highSeq + (offset - base) / MIN_RECORD_BYTES]` (every record between the
 * two takes at least MIN_RECORD_BYTES). Returns where it is and its seq, or undefined.
 *
 * Cost: the seq window rejects garbage before any CRC is computed (a random u64 falls in it with
 * odds below 2^-40), so scanning a torn tail is a few operations per byte.
 */
function findLaterRecord(
  b: Buffer,
  from: number,
  base: number,
  lowSeq: number,
  highSeq: number,
): LaterValid | undefined {
  for (let p = from; p + MIN_RECORD_BYTES <= b.length; p++) {
    const len = b.readUInt32LE(p + 4);
    if (len < RECORD_FIXED_BYTES || len > MAX_RECORD_LEN || p + RECORD_PREFIX_BYTES + len > b.length)
      continue;
    const type = b[p + 8];
    if (!isRecordType(type)) continue;
    const seq = readU64(b, p + 9);
    if (seq < lowSeq || seq > highSeq + Math.floor((p - base) / MIN_RECORD_BYTES)) continue;
    if (typeof decodeRecord(b, p) !== 'string') return { offset: p, what: `a valid record (seq ${seq})` };
  }
  return undefined;
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
  const recorder = new DamageRecorder({
    vfs,
    dir,
    paths: numbers.map((no) => segmentPath(dir, no)),
    repair: options.repair,
  });
  let expectSeq = -1;

  for (let i = 0; i < numbers.length; i++) {
    const no = numbers[i]!;
    const path = segmentPath(dir, no);
    const isLast = i === numbers.length - 1;
    if (i > 0 && no !== numbers[i - 1]! + 1) {
      await recorder.corrupt(i, 0, `segment ${numbers[i - 1]! + 1} is missing before this one`);
      break;
    }
    const { header, size } = readHeaderOf(vfs, path);
    if (typeof header === 'string') {
      // A newest segment whose header never got written whole is a torn tail if no record follows.
      const later = isLast
        ? findLaterRecord(
            vfs.readFile(path),
            0,
            0,
            expectSeq >= 0 ? expectSeq : 1,
            expectSeq >= 0 ? expectSeq : options.afterSeq + 1,
          )
        : undefined;
      await recorder.damaged(i, 0, header, later, `incomplete segment header: ${header}`);
      break;
    }
    if (expectSeq >= 0 && header.firstSeq !== expectSeq) {
      await recorder.corrupt(
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
        const later = findLaterRecord(buf, offset + 1, offset, seq, seq);
        await recorder.damaged(i, offset, reason, later);
        stopped = true;
        break;
      }
      if (r.seq !== seq) {
        await recorder.corrupt(i, offset, `record has seq ${r.seq}; expected ${seq}`);
        stopped = true;
        break;
      }
      if (r.seq > options.afterSeq) {
        try {
          options.onRecord(r);
        } catch (err) {
          throw replayFailed(err, path, offset, r.seq);
        }
      }
      seq++;
      offset += r.size;
    }
    segments.push({ no, path, firstSeq: header.firstSeq, lastSeq: seq - 1, bytes: offset });
    expectSeq = seq;
    if (stopped) break;
  }
  const newest = segments[segments.length - 1];
  return { segments, lastSeq: newest?.lastSeq ?? 0, damage: recorder.damage };
}
