/**
 * The per-segment index of the commit log: for each segment, for each store with records in it,
 * the seq range it holds there and sparse (seq, offset) points, one at least every
 * INDEX_EVERY_BYTES of the segment, so a store's older records are found without reading the
 * other stores' frames before them (docs/commit-log-format.md, "Index").
 *
 * Built by the writer as it appends and by recovery as it reads; kept in memory only (a restart
 * rebuilds it while replaying). Used only on the log's worker thread.
 */

/** INDEX_EVERY_BYTES is the least distance between two index points of a store in a segment. */
export const INDEX_EVERY_BYTES = 64 * 1024;

/** StoreRange is what one segment holds of one store. */
export interface StoreRange {
  first: number;
  last: number;
  /** points are flattened (seq, frame offset) pairs, ascending: the frame at offset starts at seq. */
  points: number[];
}

/** LogSegment is one segment file and its index. */
export interface LogSegment {
  no: number;
  path: string;
  /** logId is the log id its header carries (undefined: the previous format, which has none). */
  logId: string | undefined;
  /** marked: its batches start with sync marks (a version 3 segment; the log writes only those). */
  marked: boolean;
  bytes: number;
  stores: Map<number, StoreRange>;
}

/** indexFrame notes a frame of `store` at `offset` holding seqs first..last. */
export function indexFrame(
  seg: LogSegment,
  store: number,
  offset: number,
  first: number,
  last: number,
): void {
  const r = seg.stores.get(store);
  if (r === undefined) {
    seg.stores.set(store, { first, last, points: [first, offset] });
    return;
  }
  r.last = last;
  if (offset - r.points[r.points.length - 1]! >= INDEX_EVERY_BYTES) r.points.push(first, offset);
}

/** voidFrom drops a store's records with seq ≥ `seq` from the index (a FRAME_BASE made them void). */
export function voidFrom(segments: readonly LogSegment[], store: number, seq: number): void {
  for (const s of segments) {
    const r = s.stores.get(store);
    if (r === undefined || r.last < seq) continue;
    if (r.first >= seq) s.stores.delete(store);
    else r.last = seq - 1;
  }
}

/** pointBefore returns the offset of the last index point of `r` whose seq is ≤ `seq`, and that seq. */
export function pointBefore(r: StoreRange, seq: number): { seq: number; offset: number } {
  let lo = 0;
  let hi = r.points.length / 2 - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (r.points[mid * 2]! <= seq) lo = mid;
    else hi = mid - 1;
  }
  return { seq: r.points[lo * 2]!, offset: r.points[lo * 2 + 1]! };
}
