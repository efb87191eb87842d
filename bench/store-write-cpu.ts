/**
 * `node dist/bench/store-write-cpu.js [--turns 2000] [--rounds 5] [--warmup 1] [--per-turn 50]`: the CPU time of the store side of a write in the default layout (docs/performance.md, "Store-side CPU
 * per write"): one commit log shared by 4 leader stores and their 4 replicas, each replica following
 * its leader on the same thread (Follower over a LocalSource, as a worker runs them). One iteration
 * is one event-loop turn's worth of writes, --per-turn (50) PUTs of 100-byte values over 10k random keys spread
 * over the 4 leaders, awaited until all 50 are acknowledged AND every replica has applied them. So
 * it counts record encoding, the commit log's batch, frames and append, memtable inserts, the
 * replicas' reads of their leader's log, their apply and their own log append. Durability `none`
 * (on a temp dir) keeps fdatasync, which costs the disk and not this thread, out of the figure.
 *
 * It reports the process's CPU time (user + system, process.cpuUsage) per PUT, not wall time: on a
 * shared machine wall time mostly measures the other processes. Each round runs --turns turns on
 * fresh stores (so memtables grow alike) after --warmup uncounted rounds (default 1); the median of
 * --rounds rounds is printed with every round.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Follower } from '../src/replication/follower.js';
import { LocalSource } from '../src/replication/local-source.js';
import { openLsmStores } from '../src/storage/lsm-recovery.js';
import type { LsmOptions } from '../src/storage/lsm-options.js';
import type { LsmStore } from '../src/storage/lsm-store.js';
import { RealVfs } from '../src/storage/real-vfs.js';
import { count } from './lib/args.js';
import { benchLsmOptions } from './lib/lsm-options.js';
import { printHeader } from './micro/header.js';

const TURNS = count('turns', 2000);
const ROUNDS = count('rounds', 5);
const WARMUP = count('warmup', 1, 0);
const LEADERS = 4;
const PER_TURN = count('per-turn', 50);
const KEYS = 100_000;

function options(dir: string): LsmOptions {
  return benchLsmOptions(dir, 'none');
}

const keys = Array.from({ length: KEYS }, (_, i) => Buffer.from(`key${i}`));
const value = Buffer.alloc(100, 0x76);

/** round opens fresh stores, runs TURNS turns and returns the CPU microseconds per PUT. */
async function round(): Promise<number> {
  const root = mkdtempSync(join(tmpdir(), 'distkv-write-cpu-'));
  const dirs = Array.from({ length: LEADERS * 2 }, (_, i) =>
    join(root, i < LEADERS ? 'leaders' : 'replicas', `shard-${i % LEADERS}`),
  );
  const opened = await openLsmStores({ vfs: new RealVfs(), dir: join(root, 'log', 'w0') }, dirs.map(options));
  const stores = opened.stores.map((s) => {
    if (s instanceof Error) throw s;
    return s;
  });
  const leaders = stores.slice(0, LEADERS);
  const replicas = stores.slice(LEADERS);
  const followers = leaders.map((leader, i) => {
    const replica: LsmStore = replicas[i]!;
    const f = new Follower({
      source: new LocalSource(() => leader.replication, `leader ${i}`),
      store: () => replica.replication,
      rebuild: () => Promise.reject(new Error('no resync in this benchmark')),
      reopen: () => Promise.reject(new Error('no resync in this benchmark')),
      publish: () => undefined,
      pullMaxBytes: 1024 * 1024,
      pullWaitMs: 1000,
    });
    f.start();
    return f;
  });
  let n = 0;
  /** caughtUp resolves once every replica holds its leader's last seq. */
  const caughtUp = async (): Promise<void> => {
    for (let i = 0; i < LEADERS; i++)
      while (replicas[i]!.lastSeq() < leaders[i]!.lastSeq()) await new Promise((r) => setImmediate(r));
  };
  const t0 = process.cpuUsage();
  for (let t = 0; t < TURNS; t++) {
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < PER_TURN; i++) {
      n = (n * 1103515245 + 12345) & 0x7fffffff;
      const k = n % KEYS;
      writes.push(leaders[k % LEADERS]!.put(keys[k]!, value));
    }
    await Promise.all(writes);
    await caughtUp();
  }
  const used = process.cpuUsage(t0);
  for (const f of followers) await f.stop();
  for (const s of stores) await s.close();
  await opened.log.close();
  rmSync(root, { recursive: true, force: true });
  return (used.user + used.system) / (TURNS * PER_TURN);
}

printHeader(`store-write-cpu: ${TURNS} turns of ${PER_TURN} PUTs, ${LEADERS} leaders + ${LEADERS} replicas`);
// Warm-up rounds let the JIT settle; they are not counted.
for (let r = 0; r < WARMUP; r++) await round();
const results: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  results.push(await round());
  process.stdout.write(`round ${r + 1}: ${results[r]!.toFixed(1)} µs CPU per PUT\n`);
}
const sorted = [...results].sort((x, y) => x - y);
process.stdout.write(`median: ${sorted[Math.floor(sorted.length / 2)]!.toFixed(1)} µs CPU per PUT\n`);
