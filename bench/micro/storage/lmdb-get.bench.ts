/**
 * Measures: `LmdbLevel.get` (src/storage/lmdb-level.ts), the bottom level's point read, on an LMDB
 * environment in a temp dir holding 100k 16-byte keys with 100-byte values (written with `apply` in
 * 10k-key transactions): a hit (returns a view of the value) and a miss. Keys are pre-built Buffers
 * visited in a stride through all 100k; absent keys interleave with present ones.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bench, do_not_optimize, run } from 'mitata';
import { type LevelWrite, LmdbLevel } from '../../../src/storage/lmdb-level.js';
import { printHeader } from '../header.js';
import { ABSENT_KEYS, PRESENT_KEYS, STORED_N, STORED_VALUE } from './stored-keys.js';

printHeader('storage/lmdb-get');
const N = STORED_N;
const CHUNK = 10_000;
const present = PRESENT_KEYS.map((k) => Buffer.from(k, 'latin1'));
const absent = ABSENT_KEYS.map((k) => Buffer.from(k, 'latin1'));
const value = STORED_VALUE;

const dir = mkdtempSync(join(tmpdir(), 'distkv-bench-lmdb-'));
const level = new LmdbLevel(dir);
for (let start = 0; start < N; start += CHUNK) {
  const writes: LevelWrite[] = present.slice(start, start + CHUNK).map((key) => ({ key, value, seq: 1 }));
  await level.apply(writes);
}
let i = 0;

bench('LmdbLevel.get (hit, 100k keys)', () => {
  i = (i + 7919) % N;
  do_not_optimize(level.get(present[i]!));
});
bench('LmdbLevel.get (miss, 100k keys)', () => {
  i = (i + 7919) % N;
  do_not_optimize(level.get(absent[i]!));
});

await run();
await level.close();
rmSync(dir, { recursive: true, force: true });
