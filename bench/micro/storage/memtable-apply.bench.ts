/**
 * Measures: `Memtable.apply` (src/storage/memtable.ts) of a 100-byte value into a memtable that
 * already holds 100k 16-byte latin1 keys, overwriting an existing key (keys visited in a stride
 * through all 100k). The value is copied into the arena each time, so the arena grows by 100 bytes
 * per call, as a real memtable does until it is flushed; slab allocation is part of the cost.
 * Also the same overwrite from key bytes, hashed in the call (`applyFrom`) or with the hash given
 * (`applyHashed`, as a mirrored replica reuses its leader's).
 */
import { bench, run } from 'mitata';
import { hashBytes } from '../../../src/storage/key-hash.js';
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

// As a leader or its mirrored replica applies a write: the key's bytes with the hash the leader
// computed when it appended the record (key-origin.ts), against hashing them here.
const keyBytes = keys.map((k) => Buffer.from(k, 'latin1'));
const keyHashes = keyBytes.map((k) => hashBytes(k, 0, k.length));

bench('Memtable.applyFrom (key bytes, hashed here)', () => {
  i = (i + 7919) % N;
  const k = keyBytes[i]!;
  mem.applyFrom(k, 0, k.length, seq++, value, 0, value.length, 0);
});

bench('Memtable.applyHashed (key bytes, hash given)', () => {
  i = (i + 7919) % N;
  const k = keyBytes[i]!;
  mem.applyHashed(keyHashes[i]!, k, 0, k.length, seq++, value, 0, value.length, 0);
});

await run();
