/**
 * Whole snapshot streams for tests (src/replication/snapshot-format.ts): a version 4 stream ends
 * with the crc32c of every byte before it, which a fake leader, a backup file or a decoder test
 * must send as a leader does. The crc is computed here from src/storage/crc32c.ts, not through
 * the format's own helpers, so a test of the decoder's check does not take the writer's word.
 */
import {
  encodeSnapshotEntries,
  encodeSnapshotExactSeq,
  encodeSnapshotHeader,
} from '../../src/replication/snapshot-format.js';
import { crc32c } from '../../src/storage/crc32c.js';

/** sealSnapshot joins `parts` (a stream from its header through exactSeq) and appends their crc32c. */
export function sealSnapshot(parts: readonly Uint8Array[]): Buffer {
  const body = Buffer.concat(parts);
  const crc = Buffer.alloc(4);
  crc.writeUInt32LE(crc32c(body), 0);
  return Buffer.concat([body, crc]);
}

/** snapshotStream is the whole stream of a snapshot at `seq` holding `entries`, exact from `exactSeq`. */
export function snapshotStream(
  seq: number,
  entries: Parameters<typeof encodeSnapshotEntries>[0],
  exactSeq = seq,
): Buffer {
  return sealSnapshot([
    encodeSnapshotHeader(seq),
    encodeSnapshotEntries(entries, true),
    encodeSnapshotExactSeq(exactSeq),
  ]);
}
