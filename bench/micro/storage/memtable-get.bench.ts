/**
 * Measures: `Memtable.get` (src/storage/memtable.ts) on a memtable of 100k 16-byte latin1 keys with
 * 100-byte values: a hit (which allocates the returned version and a view into the arena) and a
 * miss. Keys are visited in a stride through all 100k; absent keys interleave with present ones.
 */
import { bench, do_not_optimize, run } from 'mitata';
import { Memtable } from '../../../src/storage/memtable.js';
import { printHeader } from '../header.js';

printHeader('storage/memtable-get');
const N = 100_000;
const keyOf = (n: number): string => `key:${String(n).padStart(12, '0')}`;
const present = Array.from({ length: N }, (_, n) => keyOf(2 * n));
const absent = Array.from({ length: N }, (_, n) => keyOf(2 * n + 1));
const value = Buffer.alloc(100, 0x61);
const mem = new Memtable();
let seq = 1;
for (const k of present) mem.apply(k, seq++, value);
let i = 0;

bench('Memtable.get (hit, 100k keys)', () => {
  i = (i + 7919) % N;
  do_not_optimize(mem.get(present[i]!));
});
bench('Memtable.get (miss, 100k keys)', () => {
  i = (i + 7919) % N;
  do_not_optimize(mem.get(absent[i]!));
});

await run();
