/**
 * Measures: `Memtable.get` (src/storage/memtable.ts) on a memtable of 100k 16-byte latin1 keys with
 * 100-byte values: a hit (which allocates the returned version and a view into the arena) and a
 * miss. Keys are visited in a stride through all 100k; absent keys interleave with present ones.
 */
import { bench, do_not_optimize, run } from 'mitata';
import { Memtable } from '../../../src/storage/memtable.js';
import { printHeader } from '../header.js';
import { ABSENT_KEYS, PRESENT_KEYS, STORED_N, STORED_VALUE } from './stored-keys.js';

printHeader('storage/memtable-get');
const mem = new Memtable();
let seq = 1;
for (const k of PRESENT_KEYS) mem.apply(k, seq++, STORED_VALUE);
let i = 0;

bench('Memtable.get (hit, 100k keys)', () => {
  i = (i + 7919) % STORED_N;
  do_not_optimize(mem.get(PRESENT_KEYS[i]!));
});
bench('Memtable.get (miss, 100k keys)', () => {
  i = (i + 7919) % STORED_N;
  do_not_optimize(mem.get(ABSENT_KEYS[i]!));
});

await run();
