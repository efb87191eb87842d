/**
 * A store directory removed by hand while its records are still in the worker's commit log
 * (src/storage/lsm-recovery.ts, `refuseRemovedDir`; docs/operations.md, "Damage on disk"). Before,
 * the next start created an empty store and replayed the log's records of it into it: a store
 * holding only the log's tail, served as the whole store. Now the store does not open, with an
 * error naming it (the worker's other stores open); with --repair it opens empty and the log's
 * records of it are void.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CorruptionError } from '../../src/errors.js';
import { openLsmStores } from '../../src/storage/lsm-recovery.js';
import { LsmStore } from '../../src/storage/lsm-store.js';
import { RealVfs } from '../../src/storage/real-vfs.js';
import { openTestGroup } from '../helpers/lsm.js';
import { tempDir } from '../helpers/temp-dir.js';

const b = (s: string): Buffer => Buffer.from(s);

/** written makes two stores sharing a log in a fresh directory, with writes in both; returns their dirs and the log dir. */
async function written(): Promise<{ logDir: string; dirs: string[] }> {
  const root = tempDir(after);
  const logDir = join(root, 'log', 'w0');
  const dirs = [0, 1].map((i) => join(root, 'node_1', `shard-${i}`));
  const { log, stores } = await openTestGroup(logDir, dirs);
  for (const s of stores) for (let k = 0; k < 5; k++) await s.put(b(`k${k}`), b(`v${k}`));
  for (const s of stores) await s.close();
  await log.close();
  return { logDir, dirs };
}

/** reopen opens both stores again, as a worker does at start; returns each store or its error. */
async function reopen(logDir: string, dirs: string[], repair: boolean) {
  const vfs = new RealVfs();
  return openLsmStores(
    { vfs, dir: logDir },
    dirs.map((dir) => ({
      dir,
      vfs,
      durability: 'fsync' as const,
      fsyncIntervalMs: 20,
      memtableBytes: 64 * 1024,
      maxRuns: 3,
      walSegmentBytes: 32 * 1024,
      walRetentionBytes: 0,
      blockCacheBytes: 1 << 20,
      ringBytes: 1 << 20,
      repair,
    })),
  );
}

describe('a store directory removed while its records are in the commit log', () => {
  it('does not open, naming the store; the other stores of the worker open', async () => {
    const { logDir, dirs } = await written();
    rmSync(dirs[1]!, { recursive: true, force: true });
    const { log, stores } = await reopen(logDir, dirs, false);
    try {
      const [kept, removed] = stores;
      assert.ok(kept instanceof LsmStore);
      assert.equal(kept.lastSeq(), 5);
      assert.ok(removed instanceof CorruptionError, "the store opened from the log's records alone");
      assert.match(
        removed.message,
        /store node_1\/shard-1: its directory .* is missing, but the commit log .* holds 5 of its records/,
      );
      assert.match(removed.message, /--repair/);
    } finally {
      for (const s of stores) if (s instanceof LsmStore) await s.close();
      await log.close();
    }
  });

  it('with --repair, opens empty: the log records of it are void, also at the next start', async () => {
    const { logDir, dirs } = await written();
    rmSync(dirs[1]!, { recursive: true, force: true });
    for (let round = 0; round < 2; round++) {
      const { log, stores } = await reopen(logDir, dirs, round === 0);
      try {
        const removed = stores[1];
        assert.ok(removed instanceof LsmStore, removed instanceof Error ? removed.message : 'not a store');
        assert.equal(removed.lastSeq(), 0, `round ${round}`);
        assert.equal(removed.get(b('k1')), undefined);
      } finally {
        for (const s of stores) if (s instanceof LsmStore) await s.close();
        await log.close();
      }
    }
  });
});
