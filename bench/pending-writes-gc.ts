/**
 * `node dist/bench/pending-writes-gc.js [--writes 2000000] [--per-turn 50] [--commits 4] [--commit-ms 5] [--garbage 1800] [--rounds 3] [--before DIR]`:
 * what the shard worker's bookkeeping of writes in flight (StoreWrites.write: pending-writes.ts,
 * unsettled.ts and the reply) leaves to the garbage collector (docs/performance.md, "Pending
 * writes as a grow-only table").
 *
 * A child process (node --trace-gc-nvp) runs StoreWrites over 4 fake leader stores whose writes
 * settle like a group commit: each turn issues --per-turn PUTs whose keys (10 bytes, 100k keys) and
 * 100-byte values are views into a fresh request batch, and resolves them all --commit-ms later
 * from a timer; up to --commits turns are in flight at once (the commit log keeps up to 4 fsyncs
 * out). So each write lives for about one group commit, as in the worker; --garbage (1800) bytes of
 * short-lived objects per write stand for the rest of the worker's allocation per PUT (about what
 * the shard worker allocates per PUT under wrk -c50, from --trace-gc-nvp), so scavenges come as
 * often per write as they do there. The parent sums the
 * child's scavenges' `promoted=` bytes and every pause, and counts the mark-compacts, then prints
 * them per 2M writes. With --before DIR (another checkout, built), each round runs that build's
 * StoreWrites too, alternated with this one's; medians of the rounds, and of after ÷ before.
 * Internal: `--child ROOT` runs one build's writes (this script spawns it).
 */
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { arg, count } from './lib/args.js';
import { median } from './lib/compare-stats.js';
import { ROOT } from './lib/processes.js';

const WRITES = count('writes', 2000000);
const PER_TURN = count('per-turn', 50);
const COMMITS = count('commits', 4);
const COMMIT_MS = count('commit-ms', 5);
const GARBAGE = count('garbage', 1800);
const ROUNDS = count('rounds', 3);
const BEFORE = arg('before', '');
const CHILD = arg('child', '');
const STORES = 4;
const KEYS = 100_000;
const KEY_BYTES = 10;
const VALUE_BYTES = 100;

/** Gc is one child run's collector figures, per 2M writes. */
interface Gc {
  promotedMb: number;
  pauseMs: number;
  scavenges: number;
  markCompacts: number;
  wallMs: number;
}

/** sink keeps the last churn alive just long enough not to be optimized away. */
let sink: unknown;

/** churn allocates about `bytes` of short-lived objects, as the rest of the worker does per PUT. */
function churn(bytes: number): unknown {
  let list: { next: unknown; n: number } | undefined;
  for (let i = 0; i < bytes; i += 32) list = { next: list, n: i };
  return list;
}

/** child runs WRITES writes through the StoreWrites of the build at `root` and exits. */
async function child(root: string): Promise<void> {
  const dist = (p: string): string => pathToFileURL(join(root, 'dist', 'src', p)).href;
  const { StoreWrites } = (await import(
    dist('worker/store-writes.js')
  )) as typeof import('../src/worker/store-writes.js');
  const { ReplyBatch } = (await import(
    dist('worker/reply-batch.js')
  )) as typeof import('../src/worker/reply-batch.js');
  const { Positions } = (await import(
    dist('replication/positions.js')
  )) as typeof import('../src/replication/positions.js');
  type StoreWritesT = InstanceType<typeof StoreWrites>;
  type Hosted = ConstructorParameters<typeof StoreWrites>[0];

  let resolvers: ((r: { seq: number }) => void)[] = [];
  let seq = 0;
  const store = {
    put(): Promise<{ seq: number }> {
      return new Promise((resolve) => resolvers.push(resolve));
    },
  };
  const hosted: Hosted = new Map(
    Array.from({ length: STORES }, (_, i) => [i, { spec: { role: 'leader' }, store }]),
  ) as unknown as Hosted;
  const positions = new Positions(new SharedArrayBuffer(Positions.bytesFor(STORES)));
  const replies = new ReplyBatch(() => undefined);
  const writes: StoreWritesT = new StoreWrites(hosted, positions, replies, () => {
    throw new Error('no replication in this benchmark');
  });
  const storeArg = store as unknown as Parameters<StoreWritesT['write']>[2];

  let issued = 0;
  let settled = 0;
  let inFlight = 0;
  let id = 0;
  const t0 = performance.now();
  await new Promise<void>((done) => {
    const turn = (): void => {
      const n = Math.min(PER_TURN, WRITES - issued);
      const batch = Buffer.allocUnsafe(n * (KEY_BYTES + VALUE_BYTES));
      for (let i = 0; i < n; i++) {
        const off = i * (KEY_BYTES + VALUE_BYTES);
        batch.write(
          `k${String(Math.floor(Math.random() * KEYS)).padStart(KEY_BYTES - 1, '0')}`,
          off,
          'latin1',
        );
        batch.fill(0x76, off + KEY_BYTES, off + KEY_BYTES + VALUE_BYTES);
        const key = batch.subarray(off, off + KEY_BYTES);
        const value = batch.subarray(off + KEY_BYTES, off + KEY_BYTES + VALUE_BYTES);
        writes.write(id++, i % STORES, storeArg, key, value, 0, 0, undefined);
        sink = churn(GARBAGE);
      }
      issued += n;
      inFlight++;
      const commit = resolvers;
      resolvers = [];
      setTimeout(() => {
        for (const r of commit) r({ seq: ++seq });
        settled += commit.length;
        inFlight--;
        setImmediate(() => {
          replies.flush();
          if (settled === WRITES) done();
          else if (issued < WRITES && inFlight < COMMITS) turn();
        });
      }, COMMIT_MS);
      if (issued < WRITES && inFlight < COMMITS) setImmediate(turn);
    };
    turn();
  });
  process.stdout.write(
    `RESULT ${JSON.stringify({ wallMs: performance.now() - t0, sink: sink !== undefined })}\n`,
  );
}

/** run spawns one child over the build at `root` and reads its GC trace. */
function run(root: string): Gc {
  const self = fileURLToPath(import.meta.url);
  const argv = ['--trace-gc-nvp', self, '--child', root, '--writes', String(WRITES)];
  argv.push('--per-turn', String(PER_TURN), '--commits', String(COMMITS), '--commit-ms', String(COMMIT_MS));
  argv.push('--garbage', String(GARBAGE));
  const r = spawnSync(process.execPath, argv, { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`child over ${root} exited with ${r.status}: ${r.stderr}`);
  let promoted = 0;
  let pause = 0;
  let scavenges = 0;
  let markCompacts = 0;
  let wallMs = 0;
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('RESULT ')) wallMs = (JSON.parse(line.slice(7)) as { wallMs: number }).wallMs;
    const gc = / gc=(\w+) /.exec(line)?.[1];
    if (gc === undefined) continue;
    pause += Number(/ pause=([\d.]+)/.exec(line)?.[1] ?? 0);
    if (gc === 's') {
      scavenges++;
      promoted += Number(/ promoted=(\d+)/.exec(line)?.[1] ?? 0);
    } else if (gc === 'mc' || gc === 'mmc') markCompacts++;
  }
  const per = 2_000_000 / WRITES;
  return { promotedMb: (promoted * per) / 1e6, pauseMs: pause * per, scavenges, markCompacts, wallMs };
}

function fmt(g: Gc): string {
  return `promoted ${g.promotedMb.toFixed(1)} MB, GC pause ${g.pauseMs.toFixed(0)} ms, ${g.scavenges} scavenges, ${g.markCompacts} mark-compacts, ${(g.wallMs / 1000).toFixed(1)} s`;
}

async function main(): Promise<void> {
  if (CHILD !== '') return child(CHILD);
  console.log(
    `node ${process.version}, load ${loadavg()
      .map((l) => l.toFixed(1))
      .join(
        ' ',
      )}; ${WRITES} writes, ${PER_TURN} per turn, ${COMMITS} commits of ${COMMIT_MS} ms in flight; figures per 2M writes`,
  );
  const after: Gc[] = [];
  const before: Gc[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    if (BEFORE !== '') {
      before.push(run(BEFORE));
      console.log(`round ${round} before: ${fmt(before.at(-1)!)}`);
    }
    after.push(run(ROOT));
    console.log(`round ${round} after:  ${fmt(after.at(-1)!)}`);
  }
  const med = (gs: Gc[], f: (g: Gc) => number): number => median(gs.map(f));
  console.log(
    `median after: promoted ${med(after, (g) => g.promotedMb).toFixed(1)} MB, pause ${med(after, (g) => g.pauseMs).toFixed(0)} ms`,
  );
  if (BEFORE === '') return;
  console.log(
    `median before: promoted ${med(before, (g) => g.promotedMb).toFixed(1)} MB, pause ${med(before, (g) => g.pauseMs).toFixed(0)} ms`,
  );
  const ratio = (f: (g: Gc) => number): string =>
    median(after.map((a, i) => f(a) / f(before[i]!))).toFixed(3);
  console.log(
    `after ÷ before (median of rounds): promoted ${ratio((g) => g.promotedMb)}, pause ${ratio((g) => g.pauseMs)}, wall ${ratio((g) => g.wallMs)}`,
  );
  console.log(
    `load ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
}

await main();
