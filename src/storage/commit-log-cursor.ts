/**
 * StoreCursor: one store's older records out of the shared commit log, for replicas catching up
 * (docs/architecture.md, "Replication"). The segment holding the wanted seq is found from the
 * index (commit-log-index.ts), the frame from its nearest index point; the segment is then read a
 * window at a time (never whole), skipping other stores' frames by their length. The position
 * reached is remembered, so a replica catching up sequentially reads each frame once.
 *
 * The answer is in WAL record framing (wal-format.ts), the bytes replicas receive.
 */
import { CorruptionError } from '../errors.js';
import { decodeFrameHeader, FRAME_HEADER_BYTES, FRAME_RECORDS } from './commit-log-format.js';
import { INDEX_EVERY_BYTES, type LogSegment, pointBefore } from './commit-log-index.js';
import type { Vfs } from './vfs.js';
import { newRecordView, viewRecord } from './wal-format.js';
import type { TailResult } from './wal-tail.js';

/** WINDOW_BYTES is the most a segment read reads at once unless a frame is larger. */
export const WINDOW_BYTES = 1024 * 1024;

/** StoreCursor reads one store's records from the log's segments. Used only on the log's worker thread. */
export class StoreCursor {
  private readonly vfs: Vfs;
  private readonly store: number;
  /** position: the frame reached by the last read (segment number, first seq of that frame, its offset). */
  private position: { no: number; seq: number; offset: number } | undefined;

  constructor(vfs: Vfs, store: number) {
    this.vfs = vfs;
    this.store = store;
  }

  /**
   * readAfter returns about `maxBytes` of records with seq > `after` from `segments` (oldest first),
   * or 'gone'. It takes whole frames (the rest of the first): a frame is one batch's part of this
   * store, and a pull never ends inside a batch (wal-tail.ts, readAfter).
   */
  readAfter(segments: readonly LogSegment[], after: number, maxBytes: number): TailResult {
    const want = after + 1;
    const seg = segments.find((s) => {
      const r = s.stores.get(this.store);
      return r !== undefined && r.first <= want && want <= r.last;
    });
    const range = seg?.stores.get(this.store);
    if (seg === undefined || range === undefined) return 'gone';
    let start = pointBefore(range, want);
    const p = this.position;
    if (p?.no === seg.no && p.seq <= want && p.offset > start.offset) start = p;
    // What the answer needs: up to an index point's distance to the wanted frame, then about
    // `maxBytes`. A small read (a record ladder's: record-ladder.ts, one record) read a whole
    // window of 1 MiB, and most of its time went there (docs/performance.md, "Session 68").
    const windowBytes = Math.min(WINDOW_BYTES, INDEX_EVERY_BYTES + maxBytes);
    const file = this.vfs.openRead(seg.path);
    try {
      let window: Buffer = Buffer.alloc(0);
      let windowAt = 0;
      /** at returns the window holding bytes [offset, offset + n), reading a new one if need be. */
      const at = (offset: number, n: number): Buffer => {
        if (offset < windowAt || offset + n > windowAt + window.length) {
          window = file.readAt(offset, Math.max(n, windowBytes));
          windowAt = offset;
          if (window.length < n)
            throw new CorruptionError(seg.path, offset, 'the segment ends inside a frame');
        }
        return window;
      };
      const parts: Buffer[] = [];
      const view = newRecordView();
      let size = 0;
      let offset = start.offset;
      let seq = start.seq;
      let frameSeq = start.seq;
      let frameAt = start.offset;
      while (offset < seg.bytes && seq <= range.last && (size < maxBytes || size === 0)) {
        const head = at(offset, FRAME_HEADER_BYTES);
        const len = head.readUInt32LE(offset - windowAt + 4);
        const b = at(offset, FRAME_HEADER_BYTES + len);
        const h = decodeFrameHeader(b, offset - windowAt);
        if (typeof h === 'string') throw new CorruptionError(seg.path, offset, h);
        const end = offset + FRAME_HEADER_BYTES + h.len;
        if (h.store === this.store && h.kind === FRAME_RECORDS) {
          frameSeq = seq;
          frameAt = offset;
          let from = -1;
          for (let r = offset + FRAME_HEADER_BYTES; r < end;) {
            // Every record's checksum is checked, the stepped-over ones too: it is what guards
            // its length, and a damaged length stepped over unchecked jumped past the rest of the
            // frame, answering later records as the next ones (test/unit/commit-log-cursor-review).
            const damage = viewRecord(b, r - windowAt, view);
            if (damage !== undefined) throw new CorruptionError(seg.path, r, damage);
            if (view.end + windowAt > end)
              throw new CorruptionError(seg.path, r, 'a record runs past the end of its frame');
            if (from < 0 && view.seq > after) from = r;
            seq = view.seq + 1;
            r = view.end + windowAt;
          }
          if (from >= 0) {
            parts.push(b.subarray(from - windowAt, end - windowAt));
            size += end - from;
          }
        }
        offset = end;
      }
      this.position = { no: seg.no, seq: frameSeq, offset: frameAt };
      // The first frame may start before `after`: the records before it were skipped above.
      return { records: parts.length === 1 ? parts[0]! : Buffer.concat(parts, size), lastSeq: seq - 1 };
    } finally {
      file.close();
    }
  }
}
