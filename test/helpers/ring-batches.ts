/**
 * What the ring tests (test/unit/ring*.test.ts) publish and read: batches of WAL-framed records
 * (src/storage/wal-format.ts) as a leader's log hands them to its ring, the seqs a pulled batch
 * holds, and a consumer that lets a test act between a pull's reads and its take.
 */
import { RingConsumer, type RingEntry } from '../../src/replication/ring.js';
import { encodeRecord, recordSize, TYPE_PUT } from '../../src/storage/wal-format.js';

/** walBatch encodes puts firstSeq..lastSeq in WAL framing: 4-byte keys, values of `valueBytes`. */
export function walBatch(firstSeq: number, lastSeq: number, valueBytes = 4): Buffer {
  const parts: Buffer[] = [];
  for (let s = firstSeq; s <= lastSeq; s++) {
    const b = Buffer.alloc(recordSize(4, valueBytes));
    encodeRecord(
      b,
      0,
      TYPE_PUT,
      s,
      Buffer.from(`k${String(s % 1000).padStart(3, '0')}`),
      Buffer.alloc(valueBytes, s % 256),
    );
    parts.push(b);
  }
  return Buffer.concat(parts);
}

/** seqsIn lists the seqs of the WAL-framed records in `records`. */
export function seqsIn(records: Buffer): number[] {
  const out: number[] = [];
  for (let o = 0; o < records.length; o += records.readUInt32LE(o + 4) + 8)
    out.push(records.readUInt32LE(o + 9));
  return out;
}

/** RacingConsumer runs `beforeTake` once, just before its next take: another thread acting in between. */
export class RacingConsumer extends RingConsumer {
  beforeTake: (() => void) | undefined;

  override take(maxBytes: number): RingEntry[] {
    const race = this.beforeTake;
    this.beforeTake = undefined;
    race?.();
    return super.take(maxBytes);
  }
}
