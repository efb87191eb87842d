/**
 * Log damage recording, shared by the two recovery readers (wal-reader.ts for the previous layout's
 * per-store WAL, commit-log-reader.ts for the shared commit log): both read a directory of numbered
 * segments and apply one rule (docs/wal-format.md, "Torn tail or corruption"). Each reader finds the
 * bad spot and whether something after it proves acknowledged history lies behind it (`LaterValid`:
 * a valid record or frame; in a version 3 commit log segment, only a sync mark saying the segment
 * was synced past the spot, commit-log-reader.ts); a `DamageRecorder` decides, cuts and reports:
 * - a bad spot in the newest segment with no such proof after it is a torn tail: the segment is cut
 *   there (removed when the spot is its start) and the damage recorded as `torn-tail`;
 * - anything else is corruption: refused with a `CorruptionError` naming file and offset, or with
 *   `repair` cut there, every later segment deleted, and recorded as `repaired`;
 * - `readOnly` (another worker's log, read for a store that moved) cuts nothing and records any
 *   damage as a torn tail of that log: reading stops there.
 * What a crash cannot leave is never a torn tail, whatever follows it: a commit log segment without
 * a whole header, or a log directory whose identity file is left without any segment (`gone`):
 * both are refused, naming what is missing and what the operator can do (docs/commit-log-format.md,
 * "A log removed or emptied by hand").
 */
import { CorruptionError, DistkvError, toDistkvError } from '../errors.js';
import type { Vfs } from './vfs.js';

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

/** LaterValid is what a reader found behind a bad spot that proves it lies in acknowledged history. */
export interface LaterValid {
  offset: number;
  /** what names it in the message, e.g. "a valid record (seq 12)" or "a sync mark saying …". */
  what: string;
}

/** DamageRecorderOptions configure a DamageRecorder. */
export interface DamageRecorderOptions {
  vfs: Vfs;
  dir: string;
  /** paths are the segment files being read, oldest first. */
  paths: readonly string[];
  repair: boolean;
  readOnly?: boolean | undefined;
}

/**
 * cutSegmentAt cuts a segment file at `offset` (removes it when `offset` is 0) and syncs the file
 * and its directory: how a torn tail, or everything after repaired damage, is dropped.
 */
export async function cutSegmentAt(vfs: Vfs, dir: string, path: string, offset: number): Promise<void> {
  if (offset === 0) vfs.unlink(path);
  else {
    const f = await vfs.openAppend(path, false);
    await f.truncate(offset);
    await f.sync();
    await f.close();
  }
  vfs.syncDir(dir);
}

/** replayFailed wraps a failure of a reader's record callback, naming the file, offset and seq. */
export function replayFailed(err: unknown, path: string, offset: number, seq: number): DistkvError {
  const e = toDistkvError(err);
  return new DistkvError(
    e.code,
    `${path} at offset ${offset}: replaying the record with seq ${seq} failed: ${e.message}`,
    { cause: err },
  );
}

function fileSize(vfs: Vfs, path: string): number {
  const f = vfs.openRead(path);
  try {
    return f.size;
  } finally {
    f.close();
  }
}

/** DamageRecorder applies the recovery rule to one reading of a segment directory (see the module comment). */
export class DamageRecorder {
  /** damage lists what was cut (or, readOnly, where reading stopped), in the order found. */
  readonly damage: WalDamage[] = [];
  private readonly o: DamageRecorderOptions;

  constructor(options: DamageRecorderOptions) {
    this.o = options;
  }

  /**
   * damaged handles a bad spot at `offset` of segment `i`: a torn tail when it is the newest segment
   * and `later` is undefined (recorded with `tornReason`, default `reason`), corruption otherwise.
   */
  async damaged(
    i: number,
    offset: number,
    reason: string,
    later: LaterValid | undefined,
    tornReason = reason,
  ): Promise<void> {
    if (i === this.o.paths.length - 1 && later === undefined)
      await this.cut(i, offset, tornReason, 'torn-tail');
    else
      await this.corrupt(
        i,
        offset,
        later === undefined
          ? reason
          : `${reason}; ${later.what} follows at offset ${later.offset}, so this is damage, not a torn tail`,
      );
  }

  /**
   * corrupt handles corruption at `offset` of segment `i`: refused unless `repair` (see the module
   * comment), the message ending with `remedy` (what the operator can do) in parentheses.
   */
  async corrupt(
    i: number,
    offset: number,
    reason: string,
    remedy = 'restart with --repair to keep the log up to here and drop the rest',
  ): Promise<void> {
    if (this.o.readOnly === true) return this.cut(i, offset, reason, 'torn-tail');
    if (!this.o.repair) throw new CorruptionError(this.o.paths[i]!, offset, `${reason} (${remedy})`);
    await this.cut(i, offset, reason, 'repaired');
  }

  /**
   * gone handles a log directory that holds no segment although its identity says the log existed
   * (`reason` says so): refused naming the directory, the message ending with `remedy`, unless
   * `repair` (recorded as `repaired`: the log starts again empty). `readOnly` records it as where
   * reading stopped.
   */
  gone(reason: string, remedy: string): void {
    const { dir, repair, readOnly } = this.o;
    if (readOnly !== true && !repair) throw new CorruptionError(dir, 0, `${reason}; ${remedy}`);
    this.damage.push({
      file: dir,
      offset: 0,
      reason,
      kind: readOnly === true ? 'torn-tail' : 'repaired',
      droppedBytes: 0,
      droppedSegments: 0,
    });
  }

  /** cut keeps segment i up to `offset` (deleting it when offset is 0), deletes every later one, and records it. */
  private async cut(i: number, offset: number, reason: string, kind: WalDamage['kind']): Promise<void> {
    const { vfs, dir, paths } = this.o;
    const path = paths[i]!;
    let droppedBytes = 0;
    if (this.o.readOnly !== true) {
      for (const p of paths.slice(i + 1)) {
        droppedBytes += fileSize(vfs, p);
        vfs.unlink(p);
      }
      droppedBytes += fileSize(vfs, path) - offset;
      await cutSegmentAt(vfs, dir, path, offset);
    }
    this.damage.push({
      file: path,
      offset,
      reason,
      kind,
      droppedBytes,
      droppedSegments: paths.length - 1 - i + (offset === 0 ? 1 : 0),
    });
  }
}
