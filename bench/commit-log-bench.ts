/**
 * Group commit across stores (docs/performance.md, "Commit log"): STORES LSM stores (the default
 * layout's 4 leaders + 4 replicas) take --clients closed-loop writers of 100-byte values spread over
 * them, durability fsync, for --seconds; once with one commit log shared by all of them (a worker
 * today) and once with a log per store (the previous layout), alternating --rounds times in one
 * run. Prints writes/s and fdatasyncs/s of each, and the shared/separate ratio per round.
 *
 * Usage: node dist/bench/commit-log-bench.js [--clients 50] [--seconds 10] [--rounds 2]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLsmStore, openLsmStores } from '../src/storage/lsm-recovery.js';
import type { LsmOptions } from '../src/storage/lsm-options.js';
import type { LsmStore } from '../src/storage/lsm-store.js';
import { RealVfs } from '../src/storage/real-vfs.js';
import { count } from './lib/args.js';
import { benchLsmOptions } from './lib/lsm-options.js';

const CLIENTS = count('clients', 50);
const SECONDS = count('seconds', 10);
const ROUNDS = count('rounds', 2);
const STORES = 8;
const VALUE = Buffer.alloc(100, 0x61);

function options(dir: string): LsmOptions {
  return benchLsmOptions(dir, 'fsync');
}

async function run(shared: boolean, root: string): Promise<{ writesPerS: number; syncsPerS: number }> {
  const dirs = Array.from({ length: STORES }, (_, i) => join(root, 'node', `shard-${i}`));
  let stores: LsmStore[];
  let closeLog = (): Promise<void> => Promise.resolve();
  if (shared) {
    const opened = await openLsmStores(
      { vfs: new RealVfs(), dir: join(root, 'log', 'w0') },
      dirs.map(options),
    );
    stores = opened.stores.map((s) => {
      if (s instanceof Error) throw s;
      return s;
    });
    closeLog = () => opened.log.close();
  } else stores = await Promise.all(dirs.map((d) => openLsmStore(options(d))));
  const syncsBefore = shared
    ? Number(stores[0]!.stats().walSyncs)
    : stores.reduce((n, s) => n + Number(s.stats().walSyncs), 0);
  const end = Date.now() + SECONDS * 1000;
  let writes = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, c) => {
      for (let i = 0; Date.now() < end; i++) {
        await stores[(c + i) % STORES]!.put(Buffer.from(`key${c}-${i % 1000}`), VALUE);
        writes++;
      }
    }),
  );
  const syncs =
    (shared
      ? Number(stores[0]!.stats().walSyncs)
      : stores.reduce((n, s) => n + Number(s.stats().walSyncs), 0)) - syncsBefore;
  for (const s of stores) await s.close();
  await closeLog();
  return { writesPerS: Math.round(writes / SECONDS), syncsPerS: Math.round(syncs / SECONDS) };
}

process.stdout.write(
  `# commit-log-bench | node ${process.version} | ${availableParallelism()} CPUs | ${STORES} stores, ${CLIENTS} clients, ${SECONDS} s, fsync\n`,
);
for (let round = 1; round <= ROUNDS; round++) {
  const result: Record<string, { writesPerS: number; syncsPerS: number }> = {};
  for (const shared of round % 2 === 1 ? [false, true] : [true, false]) {
    const root = mkdtempSync(join(tmpdir(), 'distkv-commit-log-bench-'));
    try {
      result[shared ? 'shared' : 'separate'] = await run(shared, root);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }
  const ratio = result.shared!.writesPerS / result.separate!.writesPerS;
  process.stdout.write(`${JSON.stringify({ round, ...result, ratio: Math.round(ratio * 100) / 100 })}\n`);
}
