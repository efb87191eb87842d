/**
 * Measures: the cost of routing one key to its slot, `xxh64(utf8(key)) mod 16384`.
 * Compares distkv's pure-JavaScript xxh64 (src/routing/xxh64.ts, used on every request) with the
 * xxhash-addon native binding (plus the Buffer.from(key) it needs), on 16-byte ASCII keys, a
 * non-ASCII key, and a 1024-byte key.
 */
import { createRequire } from 'node:module';
import { bench, do_not_optimize, run, summary } from 'mitata';
import { SlotHasher } from '../../../src/routing/slot.js';
import { printHeader } from '../header.js';

const require = createRequire(import.meta.url);
const { XXHash64 } = require('xxhash-addon') as { XXHash64: { hash(b: Buffer): Buffer } };

printHeader('routing/slot-hash');
const keys = Array.from({ length: 1024 }, (_, i) => `user:${String(i * 7919).padStart(10, '0')}`);
const hasher = new SlotHasher();
let i = 0;

summary(() => {
  bench('distkv JS xxh64 slotOf (16-byte ASCII key)', () => {
    do_not_optimize(hasher.slotOf(keys[i++ & 1023]!));
  });
  bench('xxhash-addon XXHash64.hash(Buffer.from(key))', () => {
    do_not_optimize(XXHash64.hash(Buffer.from(keys[i++ & 1023]!)).readUInt16BE(6) & 16383);
  });
});

bench('distkv JS xxh64 slotOf (non-ASCII key "ключ-42")', () => {
  do_not_optimize(hasher.slotOf('ключ-42'));
});
const long = 'k'.repeat(1024);
bench('distkv JS xxh64 slotOf (1024-byte key)', () => {
  do_not_optimize(hasher.slotOf(long));
});
bench('xxhash-addon (1024-byte key)', () => {
  do_not_optimize(XXHash64.hash(Buffer.from(long)).readUInt16BE(6) & 16383);
});

await run();
