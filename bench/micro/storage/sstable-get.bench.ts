/**
 * Measures: `RunReader.get` (src/storage/sstable-reader.ts) on one run of 100k entries (16-byte
 * latin1 keys, 100-byte values) written by `writeRun` through RealVfs to a temp dir, with a 64 MiB
 * BlockCache that holds every block (the cache is warmed first, so no pread is measured): a hit
 * (bloom, index search, cache lookup, binary search over the block's restart points) and a miss
 * (absent keys interleave with present ones; the bloom filter rejects about 99% of them); then a
 * hit with a zero-byte cache, so every get preads and CRC-checks its 4 KiB block from the page
 * cache: the cost a memory-mapped run would avoid (docs/sstable-format.md, "Memory-mapping").
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bench, do_not_optimize, run } from 'mitata';
import type { Versioned } from '../../../src/storage/merge-iterator.js';
import { RealVfs } from '../../../src/storage/real-vfs.js';
import { BlockCache, RunReader } from '../../../src/storage/sstable-reader.js';
import { writeRun } from '../../../src/storage/sstable-writer.js';
import { printHeader } from '../header.js';
import { ABSENT_KEYS, PRESENT_KEYS, STORED_N, STORED_VALUE } from './stored-keys.js';

printHeader('storage/sstable-get');

const dir = mkdtempSync(join(tmpdir(), 'distkv-bench-sstable-'));
const vfs = new RealVfs();
const entries = PRESENT_KEYS.map((k, n): [string, Versioned] => [k, { seq: n + 1, value: STORED_VALUE }]);
const meta = await writeRun(vfs, dir, 1, entries, STORED_N, 1, STORED_N);
const reader = new RunReader(vfs, meta.path, 1, new BlockCache(64 * 1024 * 1024));
for (const k of PRESENT_KEYS) reader.get(k);
const uncached = new RunReader(vfs, meta.path, 2, new BlockCache(0));
let i = 0;

bench('RunReader.get (hit, 100k entries, blocks cached)', () => {
  i = (i + 7919) % STORED_N;
  do_not_optimize(reader.get(PRESENT_KEYS[i]!));
});
bench('RunReader.get (miss, 100k entries)', () => {
  i = (i + 7919) % STORED_N;
  do_not_optimize(reader.get(ABSENT_KEYS[i]!));
});
bench('RunReader.get (hit, no block cache: pread + CRC per get)', () => {
  i = (i + 7919) % STORED_N;
  do_not_optimize(uncached.get(PRESENT_KEYS[i]!));
});

await run();
reader.close();
uncached.close();
rmSync(dir, { recursive: true, force: true });
