/**
 * Reading a store's log after a seq, for replicas: "give me every record after N"
 * (docs/architecture.md, "Replication").
 *
 * Recent batches are kept in memory as written (bounded by `ring_bytes`), so a replica that keeps
 * up is served without touching the disk. An older position is read by the `older` reader given
 * to `readAfter` (the commit log's per-store cursor, commit-log-cursor.ts), or is "gone": the
 * replica must resync from a snapshot.
 */

interface Chunk {
  first: number;
  last: number;
  buf: Buffer;
}

/** TailResult is what readAfter returns: records (WAL framing) and the seq of the last one, or 'gone'. */
export type TailResult = { records: Buffer; lastSeq: number } | 'gone';

const EMPTY = Buffer.alloc(0);

/** WalTail answers "records after seq N" for one store. Used only on the store's worker thread. */
export class WalTail {
  /** chunks[head..] are the retained batches, in seq order (dropping from the front only moves head). */
  private chunks: Chunk[] = [];
  private head = 0;
  private bytes = 0;
  private readonly limit: number;

  constructor(limitBytes: number) {
    this.limit = limitBytes;
  }

  /** memoryBytes is what the tail holds in memory: the recent batches. */
  get memoryBytes(): number {
    return this.bytes;
  }

  /** written records a batch the log has written for this store (StoreLog.written). */
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
  }

  /**
   * readAfter returns up to about `maxBytes` of records with seq > `after` (at least one record if
   * any exists), from memory or else from `older`, which answers 'gone' for what is not retained.
   */
  readAfter(
    after: number,
    lastSeq: number,
    maxBytes: number,
    older: (after: number, maxBytes: number) => TailResult,
  ): TailResult {
    if (after >= lastSeq) return { records: EMPTY, lastSeq: after };
    const first = this.chunks[this.head];
    if (first !== undefined && first.first <= after + 1) return this.fromMemory(after, maxBytes);
    return older(after, maxBytes);
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
}
