/**
 * Measures: encoding one WAL record, `encodeRecord` (src/storage/wal-format.ts), a PUT with a 16-byte
 * key and a 100-byte value, into a preallocated Buffer (so no allocation is measured). The cost
 * includes the crc32c of the record's 131 bytes after the crc field.
 */
import { bench, do_not_optimize, run } from 'mitata';
import { encodeRecord, recordSize, TYPE_PUT } from '../../../src/storage/wal-format.js';
import { printHeader } from '../header.js';

printHeader('storage/wal-encode');
const key = Buffer.from('key:000000042424', 'latin1');
const value = Buffer.alloc(100, 0x61);
const out = Buffer.alloc(recordSize(key.length, value.length));
let seq = 1;

bench('encodeRecord (PUT, 16-byte key, 100-byte value)', () => {
  do_not_optimize(encodeRecord(out, 0, TYPE_PUT, seq++, key, value));
});

await run();
