/**
 * The snapshot stream a leader sends a replica that fell behind the retained log
 * (`GET /_repl/snapshot?shard=I`). Integers are little-endian.
 *
 *   snapshot := magic:u32 version:u8 reserved:u8[3] seq:u64 entry* end
 *   entry    := keyLen:u16 valueLen:u32 key:keyLen value:valueLen     (keyLen ≥ 1)
 *   end      := keyLen:u16 = 0 exactSeq:u64
 *
 * The snapshot is fuzzy: it starts at seq S (the leader's last seq when it began) and is read in
 * chunks while writes go on, so an entry may already hold a value written after S, up to exactSeq
 * (a seq at or after the leader's last one when the last entry was read). The replica then pulls
 * the log from S: once it has replayed the writes through exactSeq, in order, it holds exactly the
 * leader's state at exactSeq, because every record sets or deletes a whole key. Before that its
 * content may mix states the leader never had at one seq, so it does not claim a position yet.
 * (The leader's worker writes the entries and the 0 key length; the front door appends exactSeq,
 * read after the last page.)
 */

/** SNAPSHOT_MAGIC is "DKVP" as a little-endian u32. */
export const SNAPSHOT_MAGIC = 0x50564b44;
/** SNAPSHOT_VERSION is the format version. */
export const SNAPSHOT_VERSION = 2;
/** SNAPSHOT_HEADER_BYTES is the size of the header. */
export const SNAPSHOT_HEADER_BYTES = 16;

/** encodeSnapshotHeader returns the header for a snapshot at `seq`. */
export function encodeSnapshotHeader(seq: number): Buffer {
  const b = Buffer.alloc(SNAPSHOT_HEADER_BYTES);
  b.writeUInt32LE(SNAPSHOT_MAGIC, 0);
  b[4] = SNAPSHOT_VERSION;
  b.writeUInt32LE(seq % 0x100000000, 8);
  b.writeUInt32LE(Math.floor(seq / 0x100000000), 12);
  return b;
}

/** encodeSnapshotEntries encodes entries (and the end marker when `last`). */
export function encodeSnapshotEntries(
  entries: readonly { key: Uint8Array; value: Uint8Array }[],
  last: boolean,
): Buffer {
  let size = last ? 2 : 0;
  for (const e of entries) size += 6 + e.key.length + e.value.length;
  const b = Buffer.alloc(size);
  let p = 0;
  for (const e of entries) {
    b.writeUInt16LE(e.key.length, p);
    b.writeUInt32LE(e.value.length, p + 2);
    b.set(e.key, p + 6);
    b.set(e.value, p + 6 + e.key.length);
    p += 6 + e.key.length + e.value.length;
  }
  if (last) b.writeUInt16LE(0, p);
  return b;
}

/** SNAPSHOT_EXACT_SEQ_BYTES is the size of the exactSeq that follows the end marker. */
export const SNAPSHOT_EXACT_SEQ_BYTES = 8;

/** encodeSnapshotExactSeq returns the exactSeq that closes a snapshot, after its end marker. */
export function encodeSnapshotExactSeq(seq: number): Buffer {
  const b = Buffer.alloc(SNAPSHOT_EXACT_SEQ_BYTES);
  b.writeUInt32LE(seq % 0x100000000, 0);
  b.writeUInt32LE(Math.floor(seq / 0x100000000), 4);
  return b;
}

/** SnapshotDecoder parses a snapshot stream fed in arbitrary chunks. */
export class SnapshotDecoder {
  seq: number | undefined;
  /** exactSeq is set with `done`: from that seq on, the loaded snapshot plus the log is exact. */
  exactSeq: number | undefined;
  done = false;
  private pending: Buffer = Buffer.alloc(0);

  /** push adds bytes and returns the complete entries they finish. Throws on a malformed stream. */
  push(chunk: Buffer): { key: Buffer; value: Buffer }[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const b = this.pending;
    let p = 0;
    const out: { key: Buffer; value: Buffer }[] = [];
    if (this.seq === undefined) {
      if (b.length < SNAPSHOT_HEADER_BYTES) return out;
      if (b.readUInt32LE(0) !== SNAPSHOT_MAGIC || b[4] !== SNAPSHOT_VERSION)
        throw new Error('not a distkv snapshot (bad magic or version)');
      this.seq = b.readUInt32LE(8) + b.readUInt32LE(12) * 0x100000000;
      p = SNAPSHOT_HEADER_BYTES;
    }
    while (!this.done && p + 2 <= b.length) {
      const keyLen = b.readUInt16LE(p);
      if (keyLen === 0) {
        if (p + 2 + SNAPSHOT_EXACT_SEQ_BYTES > b.length) break;
        this.exactSeq = b.readUInt32LE(p + 2) + b.readUInt32LE(p + 6) * 0x100000000;
        this.done = true;
        p += 2 + SNAPSHOT_EXACT_SEQ_BYTES;
        break;
      }
      if (p + 6 > b.length) break;
      const valueLen = b.readUInt32LE(p + 2);
      if (p + 6 + keyLen + valueLen > b.length) break;
      out.push({
        key: b.subarray(p + 6, p + 6 + keyLen),
        value: b.subarray(p + 6 + keyLen, p + 6 + keyLen + valueLen),
      });
      p += 6 + keyLen + valueLen;
    }
    this.pending = b.subarray(p);
    return out;
  }
}
