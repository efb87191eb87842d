/**
 * Opening LSM stores in tests: small memtables and runs so flushes and compactions happen within a
 * few hundred writes, on the real file system or on a FaultyVfs (LMDB always on a temp dir).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { wipeReplicaDir } from '../../src/replication/resync-marker.js';
import type { CommitLog } from '../../src/storage/commit-log.js';
import { attachLsmStore, openLsmStore, openLsmStores } from '../../src/storage/lsm-recovery.js';
import type { LsmOptions } from '../../src/storage/lsm-options.js';
import type { LsmStore } from '../../src/storage/lsm-store.js';
import { RealVfs } from '../../src/storage/real-vfs.js';
import type { Vfs } from '../../src/storage/vfs.js';
import type { Durability } from '../../src/config/schema.js';

/** TestLsmOptions override the small defaults. */
export interface TestLsmOptions {
  vfs?: Vfs;
  memtableBytes?: number;
  maxRuns?: number;
  walSegmentBytes?: number;
  walRetentionBytes?: number;
  durability?: Durability;
  /** fsyncIntervalMs is how often `durability = "interval"` syncs (default 20). */
  fsyncIntervalMs?: number;
  repair?: boolean;
  ringBytes?: number;
  /** clock is the time expiries are compared with (default Date.now). */
  clock?: () => number;
  /** retryMinMs and retryMaxMs bound the flush and compaction backoff (default backoff.ts's). */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** idleCompactMs is how long without writes before an idle flush and compaction (default compaction-scheduler.ts's). */
  idleCompactMs?: number;
  /** dirCheckMs is how often a store checks its directory is still there (default store-dir-watch.ts's). */
  dirCheckMs?: number;
  /** log receives the store's log lines (default none). */
  log?: LsmOptions['log'];
}

/** openTestLsm opens an LsmStore in `dir` with small limits (and a commit log of its own in `dir/log`). */
export function openTestLsm(dir: string, o: TestLsmOptions = {}): Promise<LsmStore> {
  return openLsmStore(testLsmOptions(dir, o));
}

/**
 * openTestGroup opens the stores in `dirs` over one shared commit log in `logDir`, as a worker
 * does; it throws if any store failed to open. Close the stores, then the log.
 */
export async function openTestGroup(
  logDir: string,
  dirs: readonly string[],
  o: TestLsmOptions = {},
): Promise<{ log: CommitLog; stores: LsmStore[] }> {
  const vfs = o.vfs ?? new RealVfs();
  const { log, stores } = await openLsmStores(
    { vfs, dir: logDir },
    dirs.map((d) => testLsmOptions(d, { ...o, vfs })),
  );
  const failed = stores.find((s) => s instanceof Error);
  if (failed !== undefined) {
    for (const s of stores) if (!(s instanceof Error)) await s.close();
    await log.close();
    throw failed;
  }
  return { log, stores: stores as LsmStore[] };
}

/**
 * attachTestLsm opens the store in `dir` into the running commit log `log` without replaying it, as
 * a worker reopens a replica (right for a store closed cleanly, rebuilt empty or loaded from a snapshot).
 */
export function attachTestLsm(log: CommitLog, dir: string, o: TestLsmOptions = {}): Promise<LsmStore> {
  return attachLsmStore(log, testLsmOptions(dir, o));
}

/**
 * wipeStoreDir removes a store's directory, as a replica's resync does: from the real file system
 * (LMDB; with `keepMarker`, all but the resync marker, as the resync does) and from `vfs` (its runs
 * and log files), which may be an in-memory FaultyVfs.
 */
export function wipeStoreDir(dir: string, vfs: Vfs | undefined, keepMarker = false): void {
  if (keepMarker) wipeReplicaDir(dir);
  else rmSync(dir, { recursive: true, force: true });
  for (const d of [dir, join(dir, 'runs'), join(dir, 'log'), join(dir, 'wal')])
    for (const name of vfs?.list(d) ?? []) vfs?.unlink(join(d, name));
}

function testLsmOptions(dir: string, o: TestLsmOptions): LsmOptions {
  return {
    dir,
    vfs: o.vfs ?? new RealVfs(),
    durability: o.durability ?? 'fsync',
    fsyncIntervalMs: o.fsyncIntervalMs ?? 20,
    memtableBytes: o.memtableBytes ?? 64 * 1024,
    maxRuns: o.maxRuns ?? 3,
    walSegmentBytes: o.walSegmentBytes ?? 32 * 1024,
    walRetentionBytes: o.walRetentionBytes ?? 0,
    blockCacheBytes: 1 << 20,
    ringBytes: o.ringBytes ?? 1 << 20,
    repair: o.repair ?? false,
    ...(o.clock === undefined ? {} : { clock: o.clock }),
    ...(o.retryMinMs === undefined ? {} : { retryMinMs: o.retryMinMs }),
    ...(o.retryMaxMs === undefined ? {} : { retryMaxMs: o.retryMaxMs }),
    ...(o.idleCompactMs === undefined ? {} : { idleCompactMs: o.idleCompactMs }),
    ...(o.dirCheckMs === undefined ? {} : { dirCheckMs: o.dirCheckMs }),
    ...(o.log === undefined ? {} : { log: o.log }),
  };
}
