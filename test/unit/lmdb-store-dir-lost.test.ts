/**
 * The LMDB-only engine (`storage.engine = "lmdb"`, src/storage/lmdb-store.ts) watches its
 * directory as the LSM store does (src/storage/store-dir-watch.ts). Before, a store directory
 * removed while the store ran went unnoticed: LMDB kept writing into the file it holds open, every
 * write was acknowledged and all of them were gone at the next start. Now writes are refused with
 * STORE_DIR_LOST naming the directory once the check finds it gone; reads keep working.
 */
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DistkvError } from '../../src/errors.js';
import { LmdbStore } from '../../src/storage/lmdb-store.js';
import { openStore } from '../../src/storage/open-store.js';
import type { Store } from '../../src/storage/store.js';
import { tempDir } from '../helpers/temp-dir.js';

const b = (s: string): Buffer => Buffer.from(s);

/** refusal returns what `write` is refused with (undefined when it is acknowledged). */
async function refusal(write: () => Promise<unknown>): Promise<DistkvError | undefined> {
  try {
    await write();
  } catch (err) {
    assert.ok(err instanceof DistkvError, `not a DistkvError: ${String(err)}`);
    return err;
  }
  return undefined;
}

const LSM = {
  memtableBytes: 1 << 20,
  maxRuns: 8,
  walSegmentBytes: 1 << 20,
  walRetentionBytes: 1 << 20,
  ringBytes: 1 << 20,
};

describe('an lmdb store whose directory is removed while it runs', () => {
  it('refuses writes with STORE_DIR_LOST within its check interval (opened as storage.engine = "lmdb"), and keeps serving reads', async () => {
    const dir = join(tempDir(after), 'node_1', 'shard-0');
    const store: Store = await openStore('lmdb', {
      dir,
      durability: 'fsync',
      fsyncIntervalMs: 20,
      lsm: LSM,
      repair: false,
    });
    try {
      for (let k = 0; k < 10; k++) await store.put(b(`k${k}`), b(`v${k}`));
      rmSync(dir, { recursive: true, force: true });
      // The default check runs every second.
      let err: DistkvError | undefined;
      for (let i = 0; i < 40 && err === undefined; i++) {
        await sleep(100);
        err = await refusal(() => store.put(b('after'), b('x')));
      }
      assert.ok(err !== undefined, 'writes were still acknowledged 4 s after the directory was removed');
      assert.equal(err.code, 'STORE_DIR_LOST');
      assert.equal(err.status, 507);
      assert.ok(err.message.includes(`${dir} was removed`), err.message);
      assert.equal((await refusal(() => store.delete(b('k1'))))?.code, 'STORE_DIR_LOST');
      assert.equal(Buffer.from(store.get(b('k3'))!).toString(), 'v3');
      assert.equal(store.stats().dirLost, 1);
    } finally {
      await store.close();
    }
  });

  it('notices a directory replaced by another of the same name', async () => {
    const root = tempDir(after);
    const dir = join(root, 'shard-0');
    const store = new LmdbStore({ dir, durability: 'fsync', fsyncIntervalMs: 20, dirCheckMs: 20 });
    try {
      await store.put(b('a'), b('1'));
      renameSync(dir, join(root, 'moved-away'));
      mkdirSync(dir);
      await sleep(150);
      const err = await refusal(() => store.put(b('b'), b('2')));
      assert.ok(err !== undefined, 'a write was acknowledged into the replaced directory');
      assert.equal(err.code, 'STORE_DIR_LOST');
      assert.match(err.message, /was replaced by another directory/);
    } finally {
      await store.close();
    }
  });

  it('goes on acknowledging writes while its directory stays', async () => {
    const dir = join(tempDir(after), 'shard-0');
    const store = new LmdbStore({ dir, durability: 'fsync', fsyncIntervalMs: 20, dirCheckMs: 20 });
    try {
      await sleep(100);
      assert.equal(await refusal(() => store.put(b('a'), b('1'))), undefined);
      assert.equal(store.stats().dirLost, 0);
    } finally {
      await store.close();
    }
  });
});
