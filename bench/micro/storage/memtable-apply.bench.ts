/**
 * Measures: `Memtable.apply` (src/storage/memtable.ts) of a 100-byte value into a memtable that
 * already holds 100k 16-byte latin1 keys, overwriting an existing key (keys visited in a stride
 * through all 100k). The value is copied into the arena each time, so the arena grows by 100 bytes
 * per call, as a real memtable does until it is flushed; slab allocation is part of the cost.
 */
import { bench, run } from 'mitata';
import { Memtable } from '../../../src/storage/memtable.js';
import { printHeader } from '../header.js';

printHeader('storage/memtable-apply');
const N = 100_000;
const keys = Array.from({ length: N }, (_, n) => `key:${String(n).padStart(12, '0')}`);
const value = Buffer.alloc(100, 0x61);
const mem = new Memtable();
let seq = 1;
for (const k of keys) mem.apply(k, seq++, value);
let i = 0;

bench('Memtable.apply (overwrite, 100-byte value, 100k keys)', () => {
  i = (i + 7919) % N;
  mem.apply(keys[i]!, seq++, value);
});

await run();
