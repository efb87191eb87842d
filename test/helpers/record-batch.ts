/**
 * Batches of WAL-framed records for the log tests (docs/wal-format.md): PUTs whose key names their
 * seq (`k<seq>`), so that reading a batch back checks both the order and that each record is whole.
 */
import assert from 'node:assert/strict';
import { decodeRecord, encodeRecord, recordSize, TYPE_PUT } from '../../src/storage/wal-format.js';

/** recordBatch encodes PUTs with seqs first..last, key `k<seq>` and value `value(seq)`. */
export function recordBatch(
  first: number,
  last: number,
  value: (seq: number) => Buffer = (seq) => Buffer.from(`v${seq}`),
): Buffer {
  const parts: Buffer[] = [];
  for (let seq = first; seq <= last; seq++) {
    const key = Buffer.from(`k${seq}`);
    const v = value(seq);
    const b = Buffer.alloc(recordSize(key.length, v.length));
    encodeRecord(b, 0, TYPE_PUT, seq, key, v);
    parts.push(b);
  }
  return Buffer.concat(parts);
}

/** seqsOf decodes a batch and returns its seqs in order; it fails on a damaged record or a key that is not `k<seq>`. */
export function seqsOf(records: Buffer): number[] {
  const out: number[] = [];
  for (let o = 0; o < records.length;) {
    const r = decodeRecord(records, o);
    assert.ok(typeof r !== 'string', typeof r === 'string' ? r : '');
    assert.equal(r.key.toString(), `k${r.seq}`);
    out.push(r.seq);
    o += r.size;
  }
  return out;
}
