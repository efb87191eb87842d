/**
 * The sync marks of a commit log segment (docs/commit-log-format.md, "Sync marks"), for tests that
 * damage or cut a log where recovery must tell a torn tail from lost history
 * (test/robustness/disk-damage.test.ts, test/helpers/lin-crash.ts's power cut).
 */
import { readFileSync } from 'node:fs';
import {
  decodeFrameHeader,
  decodeMark,
  FRAME_HEADER_BYTES,
  FRAME_MARK,
  LOG_HEADER_BYTES,
} from '../../src/storage/commit-log-format.js';
import { endOfData } from '../../src/storage/commit-log-reader.js';

/** Mark is a sync mark of a commit log segment: where it is and the offset it says was synced. */
export interface Mark {
  at: number;
  synced: number;
}

/**
 * marksOf returns the sync marks of an undamaged commit log segment (docs/commit-log-format.md),
 * walking its frames up to the zeros after them (a preallocated newest segment).
 */
export function marksOf(file: string): Mark[] {
  const b = readFileSync(file);
  const end = endOfData(b);
  const marks: Mark[] = [];
  for (let p = LOG_HEADER_BYTES; p < end;) {
    const h = decodeFrameHeader(b, p);
    if (typeof h === 'string') break;
    if (h.kind === FRAME_MARK) marks.push({ at: p, synced: decodeMark(b, p + FRAME_HEADER_BYTES) });
    p += FRAME_HEADER_BYTES + h.len;
  }
  return marks;
}
