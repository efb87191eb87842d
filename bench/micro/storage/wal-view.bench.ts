/**
 * Measures: `viewRecord` (src/storage/wal-format.ts) over a batch of 50 PUT records (16-byte keys,
 * 100-byte values) into one reused RecordView, without the checksum (a mirrored or already checked
 * batch, as a replica's apply reads it) and with it (a pulled batch's first pass, recovery).
 * Figures: docs/performance.md, "Mirrored replicas: one key hash per record".
 */
import { bench, do_not_optimize, run } from 'mitata';
import {
  encodeRecord,
  newRecordView,
  recordSize,
  TYPE_PUT,
  viewRecord,
} from '../../../src/storage/wal-format.js';
import { printHeader } from '../header.js';

printHeader('storage/wal-view');
const RECORDS = 50;
const value = Buffer.alloc(100, 0x61);
const batch = Buffer.alloc(RECORDS * recordSize(16, 100));
for (let i = 0, at = 0; i < RECORDS; i++)
  at += encodeRecord(batch, at, TYPE_PUT, 1000 + i, Buffer.from(`key:${String(i).padStart(12, '0')}`), value);
const v = newRecordView();

bench('viewRecord, no checksum (50 records)', () => {
  for (let o = 0; o < batch.length; o = v.end) viewRecord(batch, o, v, false);
  do_not_optimize(v.seq);
});

bench('viewRecord, with checksum (50 records)', () => {
  for (let o = 0; o < batch.length; o = v.end) viewRecord(batch, o, v);
  do_not_optimize(v.seq);
});

await run();
