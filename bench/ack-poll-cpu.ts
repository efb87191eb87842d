/**
 * `node dist/bench/ack-poll-cpu.js --before DIR [--waiters 100,1000,5000] [--rounds 7] [--ms 1000]`:
 * the CPU a leader's thread spends looking at its ring replicas' acks every millisecond while
 * `w=N` writes wait (src/replication/leader-state.ts, ack-waiters.ts), this build against the build
 * in DIR (another checkout, built), both loaded in this process (docs/performance.md, "What the
 * 1 ms look at ring acks costs with many writes waiting").
 *
 * Each measure: a LeaderState with two ring replicas whose acks do not move (a replica down), and
 * --waiters `w=2` writes waiting (seqs 1..W, 60 s timeouts); the process's CPU time over --ms of
 * wall time, as % of one core. The order of the builds alternates from round to round. Prints
 * each round, then the medians and the per-round spread (min..max).
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { arg, count, counts } from './lib/args.js';
import { median } from './lib/compare-stats.js';
import { ROOT } from './lib/processes.js';

const WAITERS = counts('waiters', '100,1000,5000');
const ROUNDS = count('rounds', 7);
const MS = count('ms', 1000);
const BEFORE = arg('before', '');

type LeaderModule = typeof import('../src/replication/leader-state.js');

async function load(root: string): Promise<LeaderModule['LeaderState']> {
  const url = pathToFileURL(join(root, 'dist', 'src', 'replication', 'leader-state.js')).href;
  return ((await import(url)) as LeaderModule).LeaderState;
}

/** measure returns the CPU % of one core over MS ms while `waiters` writes wait on `State`. */
async function measure(State: LeaderModule['LeaderState'], waiters: number): Promise<number> {
  let last = 0;
  const state = new State(() => last);
  for (const r of ['ring-a', 'ring-b']) {
    state.addAckSource(r, () => 0);
    state.ack(r, 0);
  }
  last = waiters;
  const pending = Array.from({ length: waiters }, (_, i) => state.waitForAcks(i + 1, 2, 60_000));
  await new Promise((r) => setTimeout(r, 50));
  const cpu = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, MS));
  const used = process.cpuUsage(cpu);
  const wallUs = Number(process.hrtime.bigint() - t0) / 1000;
  // Let them go: every ack moves to the last seq, and the next look answers them all.
  for (const r of ['ring-a', 'ring-b']) state.addAckSource(r, () => waiters);
  await Promise.all(pending);
  return (100 * (used.user + used.system)) / wallUs;
}

async function main(): Promise<void> {
  if (BEFORE === '') throw new Error('--before DIR is required (a built checkout to compare with)');
  const builds = { before: await load(BEFORE), after: await load(ROOT) };
  console.log(`node ${process.version}, load ${loadavg()[0]!.toFixed(2)}, ${MS} ms per measure`);
  for (const w of WAITERS) {
    const got: Record<'before' | 'after', number[]> = { before: [], after: [] };
    for (let round = 0; round < ROUNDS; round++) {
      const order: ('before' | 'after')[] = round % 2 === 0 ? ['before', 'after'] : ['after', 'before'];
      for (const b of order) got[b].push(await measure(builds[b], w));
      console.log(
        `waiters ${w} round ${round}: before ${got.before.at(-1)!.toFixed(1)} % after ${got.after.at(-1)!.toFixed(1)} %`,
      );
    }
    const line = (b: 'before' | 'after'): string =>
      `${median(got[b]).toFixed(1)} % (${Math.min(...got[b]).toFixed(1)}..${Math.max(...got[b]).toFixed(1)})`;
    console.log(`waiters ${w}: before ${line('before')}, after ${line('after')}`);
  }
}

await main();
