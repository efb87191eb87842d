/**
 * Measures: filling a memtable with 10k new keys (16-byte keys in random order, given as bytes as a
 * store gives them, 100-byte values) and then reading it once in key order, as a flush does
 * (src/storage/memtable.ts): the per-write cost of the index and of key order plus the one
 * ordered read that needs the order.
 * Figures: docs/performance.md, "Worker CPU per write (issues 18, 16), second pass".
 */
import { bench, run } from 'mitata';
import { Memtable } from '../../../src/storage/memtable.js';
import { printHeader } from '../header.js';

printHeader('storage/memtable-insert');
const N = 10_000;
const keys = Array.from({ length: N }, (_, n) =>
  Buffer.from(`key:${String((n * 7919 + 13) % 1_000_003).padStart(12, '0')}`, 'latin1'),
);
const value = Buffer.alloc(100, 0x61);

bench('Memtable: 10k new keys, then one ordered read', () => {
  const mem = new Memtable();
  let seq = 1;
  for (const k of keys) mem.apply(k, seq++, value);
  let n = 0;
  for (const entry of mem.entries()) if (entry[1].seq > 0) n++;
  if (n !== N) throw new Error(`read ${n} keys`);
});

bench('Memtable: 10k new keys, an ordered read from a key after every 100', () => {
  const mem = new Memtable();
  let seq = 1;
  for (let i = 0; i < N; i++) {
    mem.apply(keys[i]!, seq++, value);
    if (i % 100 === 99) mem.entries(keys[i]!.toString('latin1')).next();
  }
});

await run();
