/**
 * Event-loop stalls of a shard's thread while it flushes and compacts under write load
 * (docs/performance.md, "Commit log"): one LSM store, durability fsync, small memtables and
 * max_runs 2 so flushes and compactions run all along; CONCURRENCY closed-loop writers of 100-byte
 * values for --seconds. perf_hooks.monitorEventLoopDelay samples the loop every 1 ms; the longest
 * stall is what any other store of the worker (and, with --inline, the front door) waits at worst.
 *
 * Usage: node dist/bench/stall-bench.js [--seconds 20] [--memtable-mib 4]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { openLsmStore } from '../src/storage/lsm-recovery.js';
import { benchLsmOptions } from './lib/lsm-options.js';
import { count } from './lib/args.js';

const SECONDS = count('seconds', 20);
const MEMTABLE_MIB = count('memtable-mib', 4);
const CONCURRENCY = 64;
const VALUE = Buffer.alloc(100, 0x61);

const root = mkdtempSync(join(tmpdir(), 'distkv-stall-bench-'));
try {
  const store = await openLsmStore({
    ...benchLsmOptions(join(root, 'store'), 'fsync'),
    memtableBytes: MEMTABLE_MIB * 1024 * 1024,
    maxRuns: 2,
  });
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const end = Date.now() + SECONDS * 1000;
  let writes = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < end) {
        await store.put(Buffer.from(`key${Math.floor(Math.random() * 1_000_000)}`), VALUE);
        writes++;
      }
    }),
  );
  h.disable();
  const s = store.stats();
  await store.close();
  const ms = (ns: number): number => Math.round(ns / 1e4) / 100;
  process.stdout.write(
    `# stall-bench | node ${process.version} | ${availableParallelism()} CPUs | ${SECONDS} s, memtable ${MEMTABLE_MIB} MiB\n` +
      `${JSON.stringify({
        writesPerS: Math.round(writes / SECONDS),
        flushes: s.flushes,
        compactions: s.compactions,
        loopDelayMaxMs: ms(h.max),
        loopDelayP99Ms: ms(h.percentile(99)),
        loopDelayP50Ms: ms(h.percentile(50)),
      })}\n`,
  );
} finally {
  rmSync(root, { recursive: true, force: true });
}
