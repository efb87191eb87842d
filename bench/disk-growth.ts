/**
 * LMDB's files over cycles of deleting every key and writing it again: the default layout (4
 * shards led at one node, each with a replica at another, in one process) with a 1 MiB memtable
 * and `max_runs = 2`, so the writes reach LMDB within seconds. It writes --keys keys of --value
 * bytes, reads one short scan page (`/kv?limit=2`: a read that stops early), optionally restarts
 * the process (--restart: a leader's start reads a page of expiries), then runs --cycles cycles of
 * a delete of every key and a write of each again, and prints after each the sum of the leaders'
 * and of the replicas' `lmdb/data.mdb` sizes and the leaders' `/stats` bytes.
 *
 * The live data is the same after every cycle, so the files should stay at their first size:
 * LMDB reuses the pages a delete frees. A read left unfinished held an LMDB read transaction for
 * the life of the process, and LMDB reuses no page freed after it: the leaders' files grew by about
 * the data's size each cycle while the replicas' stayed flat (src/storage/merge-iterator.ts).
 * The last line is the leaders' growth over the cycles, as a ratio to their size before them.
 *
 * `npm run bench:disk -- [OPTIONS]` builds the checkout, then runs it; on a built checkout:
 * Usage: node dist/bench/disk-growth.js [--keys 50000] [--value 1000] [--cycles 4] [--restart]
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Child, defaultLayoutConfig, freePort, startProcess, stopChild } from './lib/processes.js';
import { count, flag } from './lib/args.js';

const KEYS = count('keys', 50_000);
const VALUE = count('value', 1000);
const CYCLES = count('cycles', 4);
const RESTART = flag('restart');
/** BATCH is the operations of one POST /kv/_batch. */
const BATCH = 1000;
/** SETTLE_MS bounds the wait for the stores' flushes and compactions after a round of writes. */
const SETTLE_MS = 30_000;

const dir = mkdtempSync(join(tmpdir(), 'distkv-disk-growth-'));
const [lp, rp] = [await freePort(), await freePort()];
const cfg = defaultLayoutConfig(dir, lp, rp, '[storage]\nmemtable_bytes = 1048576\nmax_runs = 2\n');
const data = join(dir, 'data');
const base = `http://127.0.0.1:${lp}`;
const start = (): Promise<Child> =>
  startProcess(['bin/distkv.js', 'serve', '--config', cfg, '--data-dir', data], `${base}/healthz`);

/** lmdbBytes sums the `data.mdb` sizes of the stores of node `port`. */
function lmdbBytes(port: number): number {
  const nodeDir = join(data, `127.0.0.1_${port}`);
  return readdirSync(nodeDir).reduce((n, store) => {
    try {
      return n + statSync(join(nodeDir, store, 'lmdb', 'data.mdb')).size;
    } catch {
      return n;
    }
  }, 0);
}

/** batch sends `ops` in batches of BATCH and fails on any refusal. */
async function batch(op: 'set' | 'delete'): Promise<void> {
  const value = 'v'.repeat(VALUE);
  for (let from = 0; from < KEYS; from += BATCH) {
    const ops = [];
    for (let i = from; i < Math.min(KEYS, from + BATCH); i++)
      ops.push(op === 'set' ? { op, key: `g${i}`, value } : { op, key: `g${i}` });
    const r = await fetch(`${base}/kv/_batch`, { method: 'POST', body: JSON.stringify(ops) });
    const text = await r.text();
    if (r.status !== 200 || text.includes('"ok":false'))
      throw new Error(`batch ${op}: ${r.status} ${text.slice(0, 300)}`);
  }
}

interface StoreStats {
  role?: string;
  bytes?: number;
  runs?: number;
  memtableKeys?: number;
  frozenMemtables?: number;
}

/** leaderStats is the leader stores' entries of /stats. */
async function leaderStats(): Promise<StoreStats[]> {
  const r = await fetch(`${base}/stats`);
  const doc = (await r.json()) as { stores: StoreStats[] };
  return doc.stores.filter((s) => s.role === 'leader');
}

/** settle waits (at most SETTLE_MS) until every leader store has its writes in LMDB, then for the replicas a moment. */
async function settle(): Promise<void> {
  const until = Date.now() + SETTLE_MS;
  while (Date.now() < until) {
    const stores = await leaderStats();
    if (stores.every((s) => s.runs === 0 && s.memtableKeys === 0 && s.frozenMemtables === 0)) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  await new Promise((r) => setTimeout(r, 3000));
}

let server = await start();
try {
  process.stdout.write(
    `# disk growth | ${KEYS} keys x ${VALUE} B | ${CYCLES} cycles of delete all + write all | one scan page${RESTART ? ' | restart before the cycles' : ''}\n`,
  );
  await batch('set');
  await settle();
  const page = await fetch(`${base}/kv?limit=2`);
  await page.arrayBuffer();
  if (RESTART) {
    await stopChild(server.proc);
    server = await start();
  }
  const first = lmdbBytes(lp);
  const row = (label: string): void => {
    process.stdout.write(`${label}\tleaders ${lmdbBytes(lp)} B\treplicas ${lmdbBytes(rp)} B\n`);
  };
  row('start');
  for (let c = 1; c <= CYCLES; c++) {
    await batch('delete');
    await batch('set');
    await settle();
    const stats = (await leaderStats()).reduce((n, s) => n + (s.bytes ?? 0), 0);
    process.stdout.write(
      `cycle ${c}\tleaders ${lmdbBytes(lp)} B\treplicas ${lmdbBytes(rp)} B\t/stats bytes of the leaders ${stats}\n`,
    );
  }
  process.stdout.write(
    `leaders' LMDB after ${CYCLES} cycles / before: ${(lmdbBytes(lp) / first).toFixed(2)}\n`,
  );
} finally {
  await stopChild(server.proc);
  rmSync(dir, { recursive: true, force: true });
}
