/**
 * `node dist/bench/pending-writes-cpu.js --before DIR [--writes 1000000] [--rounds 21]`: the CPU
 * of the shard worker's two tables of writes in flight (src/worker/pending-writes.ts and
 * src/worker/unsettled.ts, over slot-pool.ts) alone, this build against the build in DIR (another
 * checkout, built), both loaded in this process (docs/performance.md, "One slot pool for the
 * worker's two tables of writes in flight").
 *
 * Each round runs --writes writes through each build: per turn, 50 `note`s (10-byte keys out of
 * 100k, over 4 stores) and 50 `add`s, settled (`settle`, `delete`) 4 turns later, as a group
 * commit settles them. The build that runs second in a round tends to be slower, so the order
 * alternates from round to round. Prints ns per write per round, the medians, and the median of
 * the per-round ratios after ÷ before.
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { arg, count } from './lib/args.js';
import { median } from './lib/compare-stats.js';
import { ROOT } from './lib/processes.js';

const WRITES = count('writes', 1000000);
const ROUNDS = count('rounds', 21);
const BEFORE = arg('before', '');
const PER_TURN = 50;
const IN_FLIGHT = 4;
const STORES = 4;
const KEYS = 100_000;

type PendingModule = typeof import('../src/worker/pending-writes.js');
type UnsettledModule = typeof import('../src/worker/unsettled.js');

/** Tables are one build's two classes. */
interface Tables {
  PendingWrites: PendingModule['PendingWrites'];
  Unsettled: UnsettledModule['Unsettled'];
}

async function load(root: string): Promise<Tables> {
  const dist = (p: string): string => pathToFileURL(join(root, 'dist', 'src', p)).href;
  const { PendingWrites } = (await import(dist('worker/pending-writes.js'))) as PendingModule;
  const { Unsettled } = (await import(dist('worker/unsettled.js'))) as UnsettledModule;
  return { PendingWrites, Unsettled };
}

const keys = Array.from({ length: KEYS }, (_, i) => Buffer.from(String(i).padStart(10, 'k')));
const value = Buffer.alloc(100);
const settled = Promise.resolve({ seq: 1 });

/** run passes WRITES writes through one build's tables and returns ns per write. */
function run(t: Tables): number {
  const pending = new t.PendingWrites();
  const unsettled = new t.Unsettled();
  const ring = Array.from({ length: IN_FLIGHT + 1 }, () => new Int32Array(PER_TURN * 2));
  let k = 0;
  let turn = 0;
  const t0 = process.hrtime.bigint();
  for (let done = 0; done < WRITES; done += PER_TURN) {
    const handles = ring[turn % ring.length]!;
    for (let i = 0; i < PER_TURN; i++) {
      handles[2 * i] = pending.note(i % STORES, keys[k++ % KEYS]!, value, settled, 0);
      handles[2 * i + 1] = unsettled.add(i % STORES, settled);
    }
    turn++;
    if (turn > IN_FLIGHT) {
      const old = ring[(turn - IN_FLIGHT - 1) % ring.length]!;
      for (let i = 0; i < old.length; i += 2) {
        pending.settle(old[i]!);
        unsettled.delete(old[i + 1]!);
      }
    }
  }
  return Number(process.hrtime.bigint() - t0) / WRITES;
}

async function main(): Promise<void> {
  if (BEFORE === '') throw new Error('--before DIR is required (a built checkout to compare with)');
  const before = await load(BEFORE);
  const after = await load(ROOT);
  console.log(
    `node ${process.version}, load ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}; ${WRITES} writes a round, ${ROUNDS} rounds`,
  );
  for (let w = 0; w < 2; w++) {
    run(before);
    run(after);
  }
  const b: number[] = [];
  const a: number[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const first = r % 2 === 0 ? before : after;
    const x = run(first);
    const y = run(first === before ? after : before);
    const [nb, na] = first === before ? [x, y] : [y, x];
    b.push(nb);
    a.push(na);
    ratios.push(na / nb);
    console.log(`round ${r + 1}: before ${nb.toFixed(1)} ns/write, after ${na.toFixed(1)} ns/write`);
  }
  console.log(
    `median before ${median(b).toFixed(1)} ns, after ${median(a).toFixed(1)} ns; after ÷ before (median of rounds) ${median(ratios).toFixed(3)}; load ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}`,
  );
}

await main();
