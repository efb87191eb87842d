/**
 * fdatasync after a write that grows a file vs after a write over pre-zeroed, synced blocks
 * (docs/performance.md, "Pre-zeroed segments"), through RealVfs as the commit log writes: a
 * --bytes write (a synchronous pwrite) then an fdatasync per batch, --k batches in flight (each
 * fdatasync covers what was written before it), --batches batches per run. "append" writes at the
 * end of a new file (each sync commits the new size); "zeroed" writes over a file first filled with
 * zeros and synced, as a spare segment is (commit-log-spare.ts). Also times preparing one
 * --spare-mib spare the way the log does (SPARE_CHUNK_BYTES at a time, each written and synced), and
 * the "zeroed" run again while such a spare is being prepared beside it ("during"), with each
 * run's batch latency p50/p99. Runs alternate --rounds times; prints µs per batch of each and the
 * zeroed ÷ append ratio per round.
 *
 * Usage: node dist/bench/fsync-growth.js [--k 1] [--bytes 5000] [--batches 4000] [--rounds 3]
 *        [--spare-mib 64] [--dir DIR (default: the temp dir)]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SPARE_CHUNK_BYTES } from '../src/storage/commit-log-spare.js';
import { RealVfs } from '../src/storage/real-vfs.js';
import type { WritableFile } from '../src/storage/vfs.js';
import { arg, count } from './lib/args.js';

const K = count('k', 1);
const BYTES = count('bytes', 5000);
const BATCHES = count('batches', 4000);
const ROUNDS = count('rounds', 3);
const SPARE_BYTES = count('spare-mib', 64) * 1024 * 1024;
const vfs = new RealVfs();

/** zeroFill fills `f` with zeros to `bytes` as a spare is prepared, and returns the milliseconds it took. */
async function zeroFill(f: WritableFile, bytes: number): Promise<number> {
  const t0 = performance.now();
  while (f.size < bytes) {
    await f.appendZeros(Math.min(SPARE_CHUNK_BYTES, bytes - f.size));
    await f.sync();
  }
  return performance.now() - t0;
}

/** Run is one run's µs per batch and its batches' latency percentiles (µs). */
interface Run {
  perBatch: number;
  p50: number;
  p99: number;
}

/** batches writes BATCHES batches with K in flight. */
async function batches(f: WritableFile): Promise<Run> {
  const buf = Buffer.alloc(BYTES, 7);
  const latencies: number[] = [];
  let issued = 0;
  let done = 0;
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const next = (): void => {
      while (issued - done < K && issued < BATCHES) {
        const at = issued++ * BYTES;
        const start = performance.now();
        f.writeAt(buf, at)
          .then(() => f.sync())
          .then(() => {
            latencies.push((performance.now() - start) * 1000);
            if (++done === BATCHES) resolve();
            else next();
          }, reject);
      }
    };
    next();
  });
  latencies.sort((a, b) => a - b);
  const at = (q: number): number =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  return { perBatch: ((performance.now() - t0) * 1000) / BATCHES, p50: at(0.5), p99: at(0.99) };
}

/** run measures one file: `append`, `zeroed`, or `during` (zeroed, while a spare is prepared beside it). */
async function run(dir: string, mode: 'append' | 'zeroed' | 'during'): Promise<Run> {
  const path = join(dir, mode);
  const f = await vfs.openAppend(path, true);
  const sparePath = join(dir, 'spare');
  try {
    if (mode !== 'append') await zeroFill(f, BATCHES * BYTES);
    if (mode !== 'during') return await batches(f);
    const spare = await vfs.openAppend(sparePath, true);
    const filling = zeroFill(spare, SPARE_BYTES).finally(() => spare.close());
    const r = await batches(f);
    await filling;
    return r;
  } finally {
    await f.close();
    vfs.unlink(path);
    if (vfs.exists(sparePath)) vfs.unlink(sparePath);
  }
}

const show = (name: string, r: Run): string =>
  `${name} ${r.perBatch.toFixed(0)} µs/batch (p50 ${r.p50.toFixed(0)}, p99 ${r.p99.toFixed(0)})`;

const dir = mkdtempSync(join(arg('dir', tmpdir()), 'fsync-growth-'));
try {
  console.log(
    `# fsync-growth: node ${process.version}, K=${K}, ${BYTES}-byte batches, ${BATCHES} per run, ${ROUNDS} rounds`,
  );
  for (let r = 0; r < ROUNDS; r++) {
    const append = await run(dir, 'append');
    const zeroed = await run(dir, 'zeroed');
    const during = await run(dir, 'during');
    const spare = await vfs.openAppend(join(dir, 'spare'), true);
    const ms = await zeroFill(spare, SPARE_BYTES);
    await spare.close();
    vfs.unlink(join(dir, 'spare'));
    console.log(
      `round ${r + 1}: ${show('append', append)}, ${show('zeroed', zeroed)}, ${show('during', during)}; zeroed ÷ append ${(zeroed.perBatch / append.perBatch).toFixed(2)}; a ${SPARE_BYTES >> 20} MiB spare alone took ${ms.toFixed(0)} ms`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
