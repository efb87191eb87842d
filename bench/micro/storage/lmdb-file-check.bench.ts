/**
 * Measures: `checkLmdbFile` (src/storage/lmdb-file-check.ts), the check every LMDB store pays at
 * startup before mapping its file, on a bottom level of 500k 16-byte keys with 100-byte values
 * (written with `apply` in 10k-key transactions, then closed). Baseline in the same run: reading the
 * whole data file once (what a check that read every page would cost), and opening and closing the
 * environment without the check.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bench, do_not_optimize, run } from 'mitata';
import { open } from 'lmdb';
import { checkLmdbFile } from '../../../src/storage/lmdb-file-check.js';
import { type LevelWrite, LmdbLevel } from '../../../src/storage/lmdb-level.js';
import { printHeader } from '../header.js';

printHeader('storage/lmdb-file-check');
const N = 500_000;
const CHUNK = 10_000;
const value = Buffer.alloc(100, 7);

const dir = mkdtempSync(join(tmpdir(), 'distkv-bench-lmdb-check-'));
const level = new LmdbLevel(dir);
for (let start = 0; start < N; start += CHUNK) {
  const writes: LevelWrite[] = [];
  for (let i = start; i < start + CHUNK; i++)
    writes.push({ key: Buffer.from(`key${String((i * 7919) % N).padStart(13, '0')}`), value, seq: i + 1 });
  await level.apply(writes, start + CHUNK);
}
await level.close();
const file = join(dir, 'lmdb', 'data.mdb');
console.log(`data.mdb: ${(statSync(file).size / 2 ** 20).toFixed(1)} MiB`);

bench('checkLmdbFile (500k keys)', () => {
  checkLmdbFile(file, true);
});
bench('read data.mdb whole (baseline)', () => {
  do_not_optimize(readFileSync(file));
});
bench('open and close the environment, unchecked (baseline)', async () => {
  const root = open({ path: file, noSubdir: true, maxDbs: 4, overlappingSync: true });
  do_not_optimize(root.openDB({ name: 'data', keyEncoding: 'binary', encoding: 'binary' }));
  await root.close();
});

await run();
rmSync(dir, { recursive: true, force: true });
