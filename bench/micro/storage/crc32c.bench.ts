/**
 * Measures: `crc32c` (src/storage/crc32c.ts), the JavaScript slicing-by-8 CRC-32C that checksums WAL
 * records and SSTable blocks, over 119 bytes, over 131 bytes (what `encodeRecord` checksums for a
 * 16-byte key and a 100-byte value), and over a 4096-byte block.
 */
import { bench, do_not_optimize, run } from 'mitata';
import { crc32c } from '../../../src/storage/crc32c.js';
import { printHeader } from '../header.js';

printHeader('storage/crc32c');
const bytes = Buffer.alloc(4096);
for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + 7) & 0xff;

bench('crc32c (119 bytes)', () => {
  do_not_optimize(crc32c(bytes, 0, 119));
});
bench('crc32c (131 bytes, a WAL record of 16-byte key + 100-byte value)', () => {
  do_not_optimize(crc32c(bytes, 0, 131));
});
bench('crc32c (4096 bytes, an SSTable block)', () => {
  do_not_optimize(crc32c(bytes, 0, 4096));
});

await run();
