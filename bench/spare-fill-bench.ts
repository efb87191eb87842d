/**
 * How a spare segment's zero-fill (src/storage/commit-log-spare.ts) meets the commit log's own
 * fdatasyncs (docs/performance.md, "Paced spare fill"): one LSM store with durability fsync and
 * small segments (--segment-mib, so several rolls happen in a run) takes --clients closed-loop
 * writers of 100-byte values for --seconds, on the real file system seen through a Vfs that times
 * every sync. Prints writes/s, the log's fdatasync p50/p99 (all of them, and those that overlapped
 * a spare chunk's sync), how many log syncs overlapped one, the spare's sync p50, the most spare chunks synced
 * between two log syncs, and how many segments were made of a ready spare or created by appending
 * (the first one included). The counts depend on how the
 * fill is paced rather than on how loaded the machine is.
 *
 * Usage: node dist/bench/spare-fill-bench.js [--clients 10] [--seconds 10] [--segment-mib 8]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { SPARE_NAME } from '../src/storage/commit-log-spare.js';
import { openLsmStore } from '../src/storage/lsm-recovery.js';
import { RealVfs } from '../src/storage/real-vfs.js';
import type { Vfs, WritableFile } from '../src/storage/vfs.js';
import { count } from './lib/args.js';
import { benchLsmOptions } from './lib/lsm-options.js';

const CLIENTS = count('clients', 10);
const SECONDS = count('seconds', 10);
const SEGMENT_BYTES = count('segment-mib', 8) * 1024 * 1024;
const VALUE = Buffer.alloc(100, 0x61);

/** Sync is one completed sync: of the spare or of a log segment, from `t0` to `t1` (ms). */
interface Sync {
  spare: boolean;
  t0: number;
  t1: number;
}

/** Rolls counts segments made of a ready spare (renamed) and segments created by appending. */
interface Rolls {
  intoSpare: number;
  created: number;
}

/** watched returns `vfs` with every file's syncs recorded into `syncs`, and its segments counted in `rolls`. */
function watched(vfs: Vfs, syncs: Sync[], rolls: Rolls): Vfs {
  const wrap = (f: WritableFile): WritableFile =>
    new Proxy(f, {
      get(target, key, receiver): unknown {
        if (key === 'sync')
          return async () => {
            const t0 = performance.now();
            await target.sync();
            syncs.push({ spare: target.path.endsWith(SPARE_NAME), t0, t1: performance.now() });
          };
        const v: unknown = Reflect.get(target, key, receiver);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  return new Proxy(vfs, {
    get(target, key, receiver): unknown {
      if (key === 'openAppend')
        return async (path: string, truncate: boolean) => {
          if (truncate && path.endsWith('.log')) rolls.created++;
          return wrap(await target.openAppend(path, truncate));
        };
      if (key === 'rename')
        return (from: string, to: string) => {
          if (from.endsWith(SPARE_NAME)) rolls.intoSpare++;
          target.rename(from, to);
        };
      const v: unknown = Reflect.get(target, key, receiver);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

const root = mkdtempSync(join(tmpdir(), 'distkv-spare-fill-bench-'));
try {
  const syncs: Sync[] = [];
  const rolls: Rolls = { intoSpare: 0, created: 0 };
  const store = await openLsmStore({
    ...benchLsmOptions(root, 'fsync'),
    vfs: watched(new RealVfs(), syncs, rolls),
    walSegmentBytes: SEGMENT_BYTES,
  });
  const end = Date.now() + SECONDS * 1000;
  let writes = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, c) => {
      for (let i = 0; Date.now() < end; i++) {
        await store.put(Buffer.from(`key${c}-${i % 100000}`), VALUE);
        writes++;
      }
    }),
  );
  await store.close();
  const chunks = syncs.filter((s) => s.spare);
  const logSyncs = syncs.filter((s) => !s.spare);
  const overlapped = logSyncs.filter((l) => chunks.some((c) => c.t0 < l.t1 && l.t0 < c.t1));
  let run = 0;
  let maxRun = 0;
  for (const s of syncs.sort((a, b) => a.t1 - b.t1)) {
    run = s.spare ? run + 1 : 0;
    maxRun = Math.max(maxRun, run);
  }
  const ms = (xs: Sync[]): number[] => xs.map((s) => s.t1 - s.t0);
  const r2 = (x: number): number => Math.round(x * 100) / 100;
  process.stdout.write(
    `${JSON.stringify({
      node: process.version,
      cpus: availableParallelism(),
      clients: CLIENTS,
      seconds: SECONDS,
      segmentMiB: SEGMENT_BYTES / 1024 / 1024,
      writesPerS: Math.round(writes / SECONDS),
      logSyncs: logSyncs.length,
      logSyncP50Ms: r2(pct(ms(logSyncs), 50)),
      logSyncP99Ms: r2(pct(ms(logSyncs), 99)),
      logSyncsOverlapped: overlapped.length,
      overlappedP50Ms: r2(pct(ms(overlapped), 50)),
      overlappedP99Ms: r2(pct(ms(overlapped), 99)),
      spareSyncs: chunks.length,
      spareSyncP50Ms: r2(pct(ms(chunks), 50)),
      maxSpareSyncsInARow: maxRun,
      segmentsFromSpares: rolls.intoSpare,
      segmentsCreated: rolls.created,
    })}\n`,
  );
} finally {
  rmSync(root, { recursive: true, force: true });
}
