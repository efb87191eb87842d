/**
 * The identity of a commit log (docs/commit-log-format.md, "Identity"): a random id drawn when the
 * log is created, kept in the log directory's LOG_ID_FILE and written into every segment header,
 * so that recovery refuses a segment of another log (another worker's or node's, copied in under
 * the same number by a partial restore) instead of replaying it and silently losing what this log
 * held there.
 *
 * The log's id is the one its LOG_ID_FILE holds; without that file (a directory of the previous
 * format, or segments copied without it), that of its oldest identified segment. Segments of the
 * previous format carry none: they are accepted only below the first identified segment number the
 * file names (the segments that were there when the log was upgraded), and before any identified one.
 */
import { join } from 'node:path';
import { LOG_ID_FILE } from './commit-log-format.js';
import type { Vfs } from './vfs.js';

/**
 * LogIdFile is what a log directory's LOG_ID_FILE holds: the log's id, the number of its first
 * identified segment (segments numbered below it may be of the previous format) and, once this
 * build opened the log, `whole`: from which segment number on every segment was named only once
 * its header was durable (see above).
 */
export interface LogIdFile {
  id: string;
  first: number;
  whole?: number | undefined;
}

/** WHOLE_PREFIX starts the third line of LOG_ID_FILE, `whole=N` (see LogIdFile.whole). */
const WHOLE_PREFIX = 'whole=';

/** segmentNumber parses `s` as a segment number (a whole number from 1), or undefined. */
function segmentNumber(s: string): number | undefined {
  const no = /^[0-9]+$/.test(s) ? Number(s) : NaN;
  return Number.isSafeInteger(no) && no >= 1 ? no : undefined;
}

/** readLogId returns what log directory `dir` keeps of its identity, or undefined when it has none. */
export function readLogId(vfs: Vfs, dir: string): LogIdFile | undefined {
  const path = join(dir, LOG_ID_FILE);
  if (!vfs.exists(path)) return undefined;
  const [id = '', first = '', third = ''] = vfs.readFile(path).toString('utf8').split('\n');
  const no = segmentNumber(first);
  if (!/^[0-9a-f]+$/.test(id) || no === undefined) return undefined;
  // A third line that is not a mark is read as none: the earlier build's rule, the lenient one.
  const whole = third.startsWith(WHOLE_PREFIX) ? segmentNumber(third.slice(WHOLE_PREFIX.length)) : undefined;
  return whole === undefined ? { id, first: no } : { id, first: no, whole };
}

/** writeLogId keeps `f` as the identity of log directory `dir` (atomically, synced), unless it is already. */
export async function writeLogId(vfs: Vfs, dir: string, f: LogIdFile): Promise<void> {
  const now = readLogId(vfs, dir);
  if (now?.id === f.id && now.first === f.first && now.whole === f.whole) return;
  const tmp = join(dir, `${LOG_ID_FILE}.tmp`);
  const mark = f.whole === undefined ? '' : `${WHOLE_PREFIX}${f.whole}\n`;
  await vfs.writeFile(tmp, Buffer.from(`${f.id}\n${f.first}\n${mark}`));
  vfs.rename(tmp, join(dir, LOG_ID_FILE));
  vfs.syncDir(dir);
}

/**
 * LogIdentity checks the segments of one log, oldest first: `check` returns why segment `no`,
 * whose header carries `logId` (undefined: previous format), is not part of the log, or undefined.
 */
export class LogIdentity {
  private expected: string | undefined;
  private readonly file: LogIdFile | undefined;
  private identified = false;

  /** `file` is the log directory's identity (readLogId), if it has one. */
  constructor(file: LogIdFile | undefined) {
    this.file = file;
    this.expected = file?.id;
  }

  /** check returns why segment `no` with header id `logId` does not belong to the log, or undefined. */
  check(no: number, logId: string | undefined): string | undefined {
    if (logId === undefined)
      return this.identified || (this.file !== undefined && no >= this.file.first)
        ? `segment has no log id (commit log format 1), but log ${this.expected ?? ''} identifies every segment from ${this.file?.first ?? 'an earlier one'} on: it was copied in from another log`
        : undefined;
    this.identified = true;
    if (this.expected === undefined) {
      this.expected = logId;
      return undefined;
    }
    if (logId === this.expected) return undefined;
    const whose =
      this.file !== undefined ? `this directory's log (${LOG_ID_FILE})` : 'the segments before it';
    return `segment belongs to commit log ${logId}, not to ${whose}, log ${this.expected}: it was copied in from another worker's or node's log`;
  }
}
