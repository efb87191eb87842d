/**
 * Measures: `checkLmdbFile` (src/storage/lmdb-file-check.ts), the check every LMDB store pays at
 * startup before mapping its file, on a bottom level of 500k 16-byte keys (written with `apply` in
 * 10k-key transactions, then closed), in its two cases:
 *
 * - as written: the file holds every page up to its meta's last page, and is accepted at once;
 * - shorter than the meta's last page (what a commit that allocated and freed pages at the end of
 *   the file leaves): every tree is walked, leaves and overflow runs included. The same file with
 *   the last page of each meta raised by 16 stands for it (the walk finds nothing missing).
 *
 * Baselines in the same run: reading the whole data file once (pread in 1 MiB chunks: what a
 * check that read every page would cost), and opening and closing the environment unchecked.
 * Rounds alternate the four; each figure is the median of the rounds. Page cache warm.
 *
 * Usage: node dist/bench/micro/storage/lmdb-file-check.bench.js [--value-bytes 100] [--keys 500000] [--rounds 5]
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import { count } from '../../lib/args.js';
import { checkLmdbFile } from '../../../src/storage/lmdb-file-check.js';
import { type LevelWrite, LmdbLevel } from '../../../src/storage/lmdb-level.js';
import { printHeader } from '../header.js';

const N = count('keys', 500000);
const VALUE_BYTES = count('value-bytes', 100);
const ROUNDS = count('rounds', 5);
const CHUNK = 10_000;
/** LAST_PAGE_AT is where a meta records its last page (lmdb-file-check.ts has the layout); PAGE is the page size. */
const LAST_PAGE_AT = 144;
const PAGE = 4096;

printHeader(`storage/lmdb-file-check (${N} keys of ${VALUE_BYTES}-byte values, ${ROUNDS} rounds)`);
const dir = mkdtempSync(join(tmpdir(), 'distkv-bench-lmdb-check-'));
const level = new LmdbLevel(dir);
const value = Buffer.alloc(VALUE_BYTES, 7);
for (let start = 0; start < N; start += CHUNK) {
  const writes: LevelWrite[] = [];
  for (let i = start; i < Math.min(N, start + CHUNK); i++)
    writes.push({ key: Buffer.from(`key${String((i * 7919) % N).padStart(13, '0')}`), value, seq: i + 1 });
  await level.apply(writes, start + writes.length);
}
await level.close();
const file = join(dir, 'lmdb', 'data.mdb');
console.log(`data.mdb: ${(statSync(file).size / 2 ** 20).toFixed(1)} MiB`);

/** readWhole reads the file from start to end, 1 MiB at a time. */
function readWhole(): void {
  const fd = openSync(file, 'r');
  const b = Buffer.allocUnsafe(1 << 20);
  for (let at = 0; readSync(fd, b, 0, b.length, at) > 0; at += b.length);
  closeSync(fd);
}

/** raiseLastPages adds `by` to the last page of both metas and of the flushed snapshot's. */
function raiseLastPages(by: number): void {
  const fd = openSync(file, 'r+');
  const b = Buffer.alloc(8);
  for (const at of [0, PAGE, PAGE / 2]) {
    readSync(fd, b, 0, 8, at + LAST_PAGE_AT);
    b.writeBigUInt64LE(b.readBigUInt64LE(0) + BigInt(by));
    writeSync(fd, b, 0, 8, at + LAST_PAGE_AT);
  }
  closeSync(fd);
}

/** msOf runs `fn` `times` times and returns the mean ms per run. */
async function msOf(fn: () => unknown, times = 1): Promise<number> {
  const t = process.hrtime.bigint();
  for (let i = 0; i < times; i++) await fn();
  return Number(process.hrtime.bigint() - t) / 1e6 / times;
}

const figures = { read: [] as number[], check: [] as number[], walk: [] as number[], open: [] as number[] };
readWhole();
for (let round = 0; round < ROUNDS; round++) {
  figures.read.push(await msOf(readWhole));
  figures.check.push(
    await msOf(() => {
      checkLmdbFile(file, true);
    }, 1000),
  );
  raiseLastPages(16);
  try {
    figures.walk.push(
      await msOf(() => {
        checkLmdbFile(file, true);
      }, 5),
    );
  } finally {
    raiseLastPages(-16);
  }
  figures.open.push(
    await msOf(async () => {
      const root = open({ path: file, noSubdir: true, maxDbs: 4, overlappingSync: true });
      root.openDB({ name: 'data', keyEncoding: 'binary', encoding: 'binary' });
      await root.close();
    }, 20),
  );
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ratios = (xs: number[], base: number[]): string =>
  xs.map((x, i) => (x / base[i]!).toPrecision(2)).join(' ');
console.log(`read data.mdb whole (baseline)        ${median(figures.read).toFixed(2)} ms`);
console.log(`open and close, unchecked (baseline)  ${median(figures.open).toFixed(3)} ms`);
for (const [name, xs] of [
  ['check, file as written', figures.check],
  ['check, file short of its last page (walk)', figures.walk],
] as const) {
  const perRead = xs.map((x, i) => x / figures.read[i]!);
  console.log(
    `${name}: ${median(xs).toFixed(3)} ms; ÷ read whole ${median(perRead).toPrecision(2)} (rounds ${ratios(xs, figures.read)}); ÷ open ${median(xs.map((x, i) => x / figures.open[i]!)).toPrecision(2)}`,
  );
}
rmSync(dir, { recursive: true, force: true });
