/**
 * The commit log cursor as it read before its window was made smaller (src/storage/commit-log-cursor.ts at 84b00390):
 * a window of at least 1 MiB, every record of the store from the index point on decoded and its
 * checksum checked. Kept only as the reference the randomized cursor test compares the current
 * reading with (test/unit/commit-log-cursor-review.test.ts).
 */
import { CorruptionError } from '../../src/errors.js';
import { decodeFrameHeader, FRAME_HEADER_BYTES, FRAME_RECORDS } from '../../src/storage/commit-log-format.js';
import { type LogSegment, pointBefore } from '../../src/storage/commit-log-index.js';
import type { Vfs } from '../../src/storage/vfs.js';
import { decodeRecord } from '../../src/storage/wal-format.js';
import type { TailResult } from '../../src/storage/wal-tail.js';

/** WINDOW_BYTES is the least a segment read reads at once. */
export const WINDOW_BYTES = 1024 * 1024;

/** StoreCursorReference reads one store's records from the log's segments. Used only on the log's worker thread. */
export class StoreCursorReference {
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
    const file = this.vfs.openRead(seg.path);
    try {
      let window: Buffer = Buffer.alloc(0);
      let windowAt = 0;
      /** at returns the window holding bytes [offset, offset + n), reading a new one if need be. */
      const at = (offset: number, n: number): Buffer => {
        if (offset < windowAt || offset + n > windowAt + window.length) {
          window = file.readAt(offset, Math.max(n, WINDOW_BYTES));
          windowAt = offset;
          if (window.length < n)
            throw new CorruptionError(seg.path, offset, 'the segment ends inside a frame');
        }
        return window;
      };
      const parts: Buffer[] = [];
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
            const rec = decodeRecord(b, r - windowAt);
            if (typeof rec === 'string') throw new CorruptionError(seg.path, r, rec);
            if (rec.seq > after && from < 0) from = r;
            seq = rec.seq + 1;
            r += rec.size;
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
