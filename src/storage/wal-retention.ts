/**
 * Which WAL segments a store may delete.
 *
 * A sealed segment is needed while any of its records is above `durableSeq` (recovery replays it)
 * or at or above `retainFromSeq` (a replica has yet to pull it). Replica needs are honoured only up
 * to `retentionBytes` of segments that recovery no longer needs: beyond that the oldest go, and a
 * replica that needed them resyncs from a snapshot. Retention never blocks writes.
 */
import type { SegmentInfo } from './wal-reader.js';

/**
 * removableThrough returns the seq through which sealed segments may be deleted: every sealed
 * segment with lastSeq ≤ the result can go. `sealed` is oldest first.
 */
export function removableThrough(
  sealed: readonly SegmentInfo[],
  durableSeq: number,
  retainFromSeq: number | undefined,
  retentionBytes: number,
): number {
  let through = retainFromSeq === undefined ? durableSeq : Math.min(durableSeq, retainFromSeq - 1);
  // Segments recovery no longer needs but a replica still wants: keep at most retentionBytes of them, newest first.
  let kept = 0;
  for (let i = sealed.length - 1; i >= 0; i--) {
    const s = sealed[i]!;
    if (s.lastSeq > durableSeq || s.lastSeq <= through) continue;
    kept += s.bytes;
    if (kept > retentionBytes) {
      through = Math.max(through, s.lastSeq);
      break;
    }
  }
  return through;
}
