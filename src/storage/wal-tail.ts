/**
 * Reading the log after a seq, for replicas: "give me every record after N" (docs/architecture.md, "Replication").
 *
 * Recent batches are kept in memory as written (`RecentLog`, bounded by `ring_bytes`), so a replica
 * that keeps up is served without touching the disk. An older position is read from the WAL
 * segment files, a window at a time (never a whole segment: that was 64 MiB per lagging replica);
 * the last segment read and the offset reached are remembered, so a replica catching up
 * sequentially reads each segment once. A position older than the oldest retained segment is
 * "gone": the replica must resync from a snapshot.
 */
import { CorruptionError } from '../errors.js';
import type { SegmentInfo } from './wal-reader.js';
import type { Vfs } from './vfs.js';
import { decodeRecord, WAL_HEADER_BYTES } from './wal-format.js';

interface Chunk {
  first: number;
  last: number;
  buf: Buffer;
}

/** TailResult is what readAfter returns: records (WAL framing) and the seq of the last one, or 'gone'. */
export type TailResult = { records: Buffer; lastSeq: number } | 'gone';

const EMPTY = Buffer.alloc(0);
/** WINDOW_BYTES is the least a segment read reads at once. */
export const WINDOW_BYTES = 1024 * 1024;

/** WalTail answers "records after seq N" for one store. Used only on the store's worker thread. */
export class WalTail {
  /** chunks[head..] are the retained batches, in seq order (dropping from the front only moves head). */
  private chunks: Chunk[] = [];
  private head = 0;
  private bytes = 0;
  private readonly limit: number;
  private readonly vfs: Vfs;
  /** position: where the last segment read ended (segment number, next seq, byte offset). */
  private position: { no: number; nextSeq: number; offset: number } | undefined;

  constructor(vfs: Vfs, limitBytes: number) {
    this.vfs = vfs;
    this.limit = limitBytes;
  }

  /** memoryBytes is what the tail holds in memory: the recent batches. */
  get memoryBytes(): number {
    return this.bytes;
  }

  /** written records a batch the WAL has written (see WalWriterOptions.onWritten). */
  written(records: Buffer, first: number, last: number): void {
    const prev = this.chunks[this.chunks.length - 1];
    if (prev !== undefined && first !== prev.last + 1) this.clear();
    this.chunks.push({ first, last, buf: records });
    this.bytes += records.length;
    while (this.bytes > this.limit && this.chunks.length - this.head > 1) {
      // Release the dropped batch now: its slot below head stays in the array until the slice
      // below, and up to 1024 large batches held there were gigabytes (docs/operations.md, "Memory").
      const dropped = this.chunks[this.head++]!;
      this.bytes -= dropped.buf.length;
      dropped.buf = EMPTY;
    }
    if (this.head > 1024 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }

  /** clear forgets the in-memory batches (after a rewind or a reset). */
  clear(): void {
    this.chunks = [];
    this.head = 0;
    this.bytes = 0;
    this.position = undefined;
  }

  /**
   * readAfter returns up to about `maxBytes` of records with seq > `after` (at least one record if
   * any exists), from memory or from `segments` (oldest first), or 'gone'.
   */
  readAfter(after: number, lastSeq: number, maxBytes: number, segments: readonly SegmentInfo[]): TailResult {
    if (after >= lastSeq) return { records: EMPTY, lastSeq: after };
    const first = this.chunks[this.head];
    if (first !== undefined && first.first <= after + 1) return this.fromMemory(after, maxBytes);
    const seg = segments.find((s) => s.firstSeq <= after + 1 && after + 1 <= s.lastSeq);
    if (seg === undefined) return 'gone';
    return this.fromSegment(seg, after, maxBytes);
  }

  private fromMemory(after: number, maxBytes: number): TailResult {
    const parts: Buffer[] = [];
    let size = 0;
    let last = after;
    // Binary search for the first chunk holding seq after+1: there are thousands of small batches.
    let lo = this.head;
    let hi = this.chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.chunks[mid]!.last <= after) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.chunks.length; i++) {
      const c = this.chunks[i]!;
      if (c.last <= after) continue;
      let offset = 0;
      let seq = c.first;
      while (seq <= after) {
        offset += c.buf.readUInt32LE(offset + 4) + 8;
        seq++;
      }
      let end = offset;
      while (seq <= c.last && (size + end - offset < maxBytes || end === offset)) {
        end += c.buf.readUInt32LE(end + 4) + 8;
        seq++;
      }
      parts.push(c.buf.subarray(offset, end));
      size += end - offset;
      last = seq - 1;
      if (size >= maxBytes || seq <= c.last) break;
    }
    return { records: parts.length === 1 ? parts[0]! : Buffer.concat(parts, size), lastSeq: last };
  }

  /**
   * fromSegment reads the records after `after` from a segment file in windows of at least
   * WINDOW_BYTES (a record larger than a window is read whole), so a replica catching up holds a
   * window and its answer, not the segment. The position reached is remembered for the next call.
   */
  private fromSegment(seg: SegmentInfo, after: number, maxBytes: number): TailResult {
    let p = this.position;
    if (p?.no !== seg.no || p.nextSeq > after + 1)
      p = { no: seg.no, nextSeq: seg.firstSeq, offset: WAL_HEADER_BYTES };
    const file = this.vfs.openRead(seg.path);
    try {
      let window: Buffer = EMPTY;
      let windowAt = 0;
      /** at returns the window holding bytes [offset, offset + n), reading a new one if need be. */
      const at = (offset: number, n: number): Buffer => {
        if (offset < windowAt || offset + n > windowAt + window.length) {
          window = file.readAt(offset, Math.max(n, WINDOW_BYTES));
          windowAt = offset;
          if (window.length < n)
            throw new Error(`${seg.path} at offset ${offset}: the segment ends inside a record`);
        }
        return window;
      };
      const sizeAt = (offset: number): number => at(offset, 8).readUInt32LE(offset - windowAt + 4) + 8;
      let { offset, nextSeq: seq } = p;
      while (seq <= after) {
        offset += sizeAt(offset);
        seq++;
      }
      const parts: Buffer[] = [];
      let size = 0;
      while (seq <= seg.lastSeq && offset < seg.bytes && (size < maxBytes || size === 0)) {
        const b = at(offset, sizeAt(offset));
        const r = decodeRecord(b, offset - windowAt);
        if (typeof r === 'string') throw new CorruptionError(seg.path, offset, r);
        parts.push(b.subarray(offset - windowAt, offset - windowAt + r.size));
        size += r.size;
        offset += r.size;
        seq++;
      }
      this.position = { no: seg.no, nextSeq: seq, offset };
      return { records: Buffer.concat(parts, size), lastSeq: seq - 1 };
    } finally {
      file.close();
    }
  }
}
