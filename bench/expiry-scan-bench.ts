/**
 * `node --expose-gc dist/bench/expiry-scan-bench.js [--keys 200000] [--ttl-every 10] [--rounds 5]`:
 * what a store that becomes a leader pays to learn its expiries (src/worker/expiry-scan.ts;
 * docs/performance.md, "TTL expiry after a restart or promotion").
 *
 * One LSM store (durability `none`, on a temp dir) holds --keys keys of 100-byte values, every
 * --ttl-every-th with an expiry; half of them were flushed to a run, the rest are in the memtable.
 * Each round times, alternately, the baseline, one pass of `scan()` over the whole store in pages
 * of 1000 (what a watch snapshot or a purge reads), and one pass of `expiring()` in pages of 1000
 * (what the expiry scan reads), as process CPU time; the median of --rounds rounds is printed with
 * their ratio. Then the heap an ExpiryReaper holds per remembered key, measured with gc() around
 * adding one entry per expiring key (needs --expose-gc).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLsmStore } from '../src/storage/lsm-recovery.js';
import type { LsmStore } from '../src/storage/lsm-store.js';
import { ExpiryReaper } from '../src/worker/expiry-reaper.js';
import { count } from './lib/args.js';
import { benchLsmOptions } from './lib/lsm-options.js';
import { printHeader } from './micro/header.js';
import { median } from './lib/compare-stats.js';

const KEYS = count('keys', 200000);
const TTL_EVERY = count('ttl-every', 10);
const ROUNDS = count('rounds', 5);
const PAGE = 1000;

/** fill writes the keys, flushing the first half to a run. */
async function fill(store: LsmStore): Promise<void> {
  const value = Buffer.alloc(100, 0x76);
  const far = Date.now() + 3_600_000;
  for (let i = 0; i < KEYS; i += 500) {
    const batch: Promise<unknown>[] = [];
    for (let j = i; j < Math.min(KEYS, i + 500); j++)
      batch.push(store.put(Buffer.from(`key${j}`), value, j % TTL_EVERY === 0 ? far : 0));
    await Promise.all(batch);
    if (i + 500 >= KEYS / 2 && i < KEYS / 2) await store.flush();
  }
}

/** cpuMs runs `fn` and returns the process CPU time it took, in ms, and its result. */
function cpuMs<T>(fn: () => T): [number, T] {
  const t0 = process.cpuUsage();
  const r = fn();
  const d = process.cpuUsage(t0);
  return [(d.user + d.system) / 1000, r];
}

function scanPass(store: LsmStore): number {
  let n = 0;
  let after: Uint8Array | undefined;
  for (;;) {
    const page = store.scan(new Uint8Array(0), after, PAGE);
    if (page.length === 0) return n;
    n += page.length;
    after = page[page.length - 1]!.key;
  }
}

function expiringPass(store: LsmStore): number {
  let n = 0;
  let after: Uint8Array | undefined;
  for (;;) {
    const page = store.expiring(after, PAGE);
    n += page.entries.length;
    if (page.next === undefined) return n;
    after = page.next;
  }
}

async function main(): Promise<void> {
  printHeader(`expiry scan: ${KEYS} keys of 100 B, every ${TTL_EVERY}th expiring, pages of ${PAGE}`);
  const dir = mkdtempSync(join(tmpdir(), 'distkv-expiry-scan-'));
  const store = await openLsmStore(benchLsmOptions(dir, 'none'));
  try {
    await fill(store);
    const scan: number[] = [];
    const expiring: number[] = [];
    let listed = 0;
    for (let r = 0; r < ROUNDS; r++) {
      // Alternate which pass goes first, so a drift of the machine's load hits both alike.
      const passes = r % 2 === 0 ? (['scan', 'expiring'] as const) : (['expiring', 'scan'] as const);
      for (const p of passes)
        if (p === 'scan') scan.push(cpuMs(() => scanPass(store))[0]);
        else {
          const [ms, n] = cpuMs(() => expiringPass(store));
          expiring.push(ms);
          listed = n;
        }
      console.log(
        `round ${r + 1}: scan ${scan.at(-1)!.toFixed(1)} ms, expiring ${expiring.at(-1)!.toFixed(1)} ms`,
      );
    }
    const s = median(scan);
    const e = median(expiring);
    console.log(
      `median CPU per pass: scan() ${s.toFixed(1)} ms, expiring() ${e.toFixed(1)} ms (${(e / s).toFixed(2)}x of scan; ${listed} expiring keys listed)`,
    );
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) {
    console.log('reaper memory: run with --expose-gc to measure it');
    return;
  }
  const n = Math.ceil(KEYS / TTL_EVERY);
  gc();
  const before = process.memoryUsage().heapUsed;
  const reaper = new ExpiryReaper(() => undefined);
  const far = Date.now() + 3_600_000;
  for (let i = 0; i < n; i++)
    reaper.add({ store: 0, key: Buffer.from(`key${i * TTL_EVERY}`), seq: i + 1, expiresAtMs: far + i });
  gc();
  const per = (process.memoryUsage().heapUsed - before) / n;
  console.log(`reaper heap: ${per.toFixed(0)} B per remembered key (${reaper.size} keys of ~9 B)`);
  reaper.close();
}

await main();
