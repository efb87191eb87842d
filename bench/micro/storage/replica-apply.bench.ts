/**
 * Measures: a replica's apply of one pulled batch of 50 PUT records (16-byte keys, 100-byte values)
 * into a memtable, as LsmReplication.applyReplicated does after the batch is logged
 * (src/storage/lsm-replication.ts): the way it was, `decodeRecord` per record (an object and two
 * Buffer views each) then `Memtable.apply`, against the way it is, `viewRecord` into one reused
 * RecordView then `Memtable.applyFrom` straight from the batch. The checksum pass before logging is
 * the same in both and not measured here (the second pass of `viewRecord` skips it).
 */
import { bench, run } from 'mitata';
import { Memtable } from '../../../src/storage/memtable.js';
import {
  decodeRecord,
  encodeRecord,
  newRecordView,
  putValueOf,
  recordSize,
  TYPE_PUT,
  viewRecord,
} from '../../../src/storage/wal-format.js';
import { printHeader } from '../header.js';

printHeader('storage/replica-apply');
const RECORDS = 50;
const KEYS = 100_000;
const value = Buffer.alloc(100, 0x61);
const key = (n: number): Buffer => Buffer.from(`key:${String(n).padStart(12, '0')}`, 'latin1');
const batches = Array.from({ length: 64 }, (_, b) => {
  const out = Buffer.alloc(RECORDS * recordSize(16, 100));
  let at = 0;
  for (let i = 0; i < RECORDS; i++)
    at += encodeRecord(out, at, TYPE_PUT, b * RECORDS + i + 1, key((b * 7919 + i * 104729) % KEYS), value);
  return out;
});
const before = new Memtable();
const after = new Memtable();
const view = newRecordView();
let n = 0;

bench('decodeRecord + Memtable.apply (50 records)', () => {
  const batch = batches[n++ % batches.length]!;
  for (let o = 0; o < batch.length;) {
    const r = decodeRecord(batch, o);
    if (typeof r === 'string') throw new Error(r);
    before.apply(r.key, r.seq, putValueOf(r), r.expiresAtMs);
    o += r.size;
  }
});

bench('viewRecord (no checksum) + Memtable.applyFrom (50 records)', () => {
  const batch = batches[n++ % batches.length]!;
  for (let o = 0; o < batch.length; o = view.end) {
    viewRecord(batch, o, view, false);
    after.applyFrom(batch, view.keyStart, view.keyEnd, view.seq, batch, view.valueStart, view.end, 0);
  }
});

await run();
