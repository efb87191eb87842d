/**
 * Reading a store's log after a seq, for replicas: "give me every record after N"
 * (docs/architecture.md, "Replication").
 *
 * Recent batches are kept in memory as written (bounded by `ring_bytes`), so a replica that keeps
 * up is served without touching the disk. An older position is read by the `older` reader given
 * to `readAfter` (the commit log's per-store cursor, commit-log-cursor.ts), or is "gone": the
 * replica must resync from a snapshot.
 */

/** TailResult is what readAfter returns: records (WAL framing) and the seq of the last one, or 'gone'. */
export type TailResult = { records: Buffer; lastSeq: number } | 'gone';

const EMPTY = Buffer.alloc(0);

/** FIRST_SLOTS is how many batches the tail's arrays hold at first (they double as needed). */
const FIRST_SLOTS = 64;

/** WalTail answers "records after seq N" for one store. Used only on the store's worker thread. */
export class WalTail {
  /**
   * The retained batches, in seq order, at [head, count) of parallel arrays (dropping from the
   * front only moves head): the buffer that holds each batch's records (a whole commit log batch,
   * shared by every store with a part in it), where they start and end in it, and their seqs. No
   * object per batch: a store keeps thousands, long enough to reach the old generation, and an
   * object and a view per batch and store were most of what the worker's mark-compacts traced
   * (docs/performance.md, "The worker's CPU per PUT").
   */
  private bufs: (Buffer | undefined)[] = [];
  private starts = new Int32Array(FIRST_SLOTS);
  private ends = new Int32Array(FIRST_SLOTS);
  private firsts = new Float64Array(FIRST_SLOTS);
  private lasts = new Float64Array(FIRST_SLOTS);
  private head = 0;
  private count = 0;
  private bytes = 0;
  private readonly limit: number;

  constructor(limitBytes: number) {
    this.limit = limitBytes;
  }

  /** memoryBytes is what the tail holds in memory: the recent batches. */
  get memoryBytes(): number {
    return this.bytes;
  }

  /**
   * written records a batch the log has written for this store (StoreLog.written): `records`,
   * seqs `first`..`last`, a view of `holder` from `at` (the tail keeps `holder`, not the view).
   */
  written(records: Buffer, first: number, last: number, holder: Buffer = records, at = 0): void {
    if (this.count > this.head && first !== this.lasts[this.count - 1]! + 1) this.clear();
    this.room();
    const i = this.count++;
    this.bufs[i] = holder;
    this.starts[i] = at;
    this.ends[i] = at + records.length;
    this.firsts[i] = first;
    this.lasts[i] = last;
    this.bytes += records.length;
    while (this.bytes > this.limit && this.count - this.head > 1) {
      // Release the dropped batch now: up to thousands of large batches held below head were
      // gigabytes (docs/operations.md, "Memory").
      this.bytes -= this.ends[this.head]! - this.starts[this.head]!;
      this.bufs[this.head++] = undefined;
    }
  }

  /** clear forgets the in-memory batches (after a rewind or a reset). */
  clear(): void {
    this.bufs = [];
    this.head = 0;
    this.count = 0;
    this.bytes = 0;
  }

  /**
   * readAfter returns about `maxBytes` of records with seq > `after` (at least one record if any
   * exists), from memory or else from `older`, which answers 'gone' for what is not retained. The
   * answer ends at the end of a batch, past `maxBytes` if need be: a batch is applied on the leader
   * at once (an all-or-nothing batch is one), and so is each pull on a replica (docs/api.md,
   * "Batches with conditions").
   */
  readAfter(
    after: number,
    lastSeq: number,
    maxBytes: number,
    older: (after: number, maxBytes: number) => TailResult,
  ): TailResult {
    if (after >= lastSeq) return { records: EMPTY, lastSeq: after };
    if (this.count > this.head && this.firsts[this.head]! <= after + 1)
      return this.fromMemory(after, maxBytes);
    return older(after, maxBytes);
  }

  /** room makes room for one more batch: moves the retained ones to the front, or doubles the arrays. */
  private room(): void {
    const slots = this.firsts.length;
    if (this.count < slots) return;
    const n = this.count - this.head;
    if (this.head * 2 >= slots) {
      this.starts.copyWithin(0, this.head, this.count);
      this.ends.copyWithin(0, this.head, this.count);
      this.firsts.copyWithin(0, this.head, this.count);
      this.lasts.copyWithin(0, this.head, this.count);
      this.bufs = this.bufs.slice(this.head, this.count);
    } else {
      this.starts = grown(this.starts, new Int32Array(slots * 2), this.head, this.count);
      this.ends = grown(this.ends, new Int32Array(slots * 2), this.head, this.count);
      this.firsts = grown(this.firsts, new Float64Array(slots * 2), this.head, this.count);
      this.lasts = grown(this.lasts, new Float64Array(slots * 2), this.head, this.count);
      this.bufs = this.bufs.slice(this.head, this.count);
    }
    this.head = 0;
    this.count = n;
  }

  private fromMemory(after: number, maxBytes: number): TailResult {
    const parts: Buffer[] = [];
    let size = 0;
    let last = after;
    // Binary search for the first batch holding seq after+1: there are thousands of small batches.
    let lo = this.head;
    let hi = this.count - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.lasts[mid]! <= after) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.count; i++) {
      const cLast = this.lasts[i]!;
      if (cLast <= after) continue;
      const buf = this.bufs[i]!;
      let offset = this.starts[i]!;
      let seq = this.firsts[i]!;
      while (seq <= after) {
        offset += buf.readUInt32LE(offset + 4) + 8;
        seq++;
      }
      // The rest of the batch, whatever its size: a pull never ends inside a batch.
      const end = this.ends[i]!;
      parts.push(buf.subarray(offset, end));
      size += end - offset;
      last = cLast;
      if (size >= maxBytes) break;
    }
    return { records: parts.length === 1 ? parts[0]! : Buffer.concat(parts, size), lastSeq: last };
  }
}

/** grown copies [from, to) of `src` into the start of `dst` and returns `dst`. */
function grown<T extends Int32Array | Float64Array>(src: T, dst: T, from: number, to: number): T {
  dst.set(src.subarray(from, to));
  return dst;
}
