/**
 * A store directory removed (`rm -rf`) while its store runs (src/storage/store-dir-watch.ts).
 * Before, writes kept being acknowledged until a memtable flush failed to create its run, and the
 * next start refused the store: every write acknowledged meanwhile was lost with it. Now the store
 * notices at its next flush or compaction, or within its directory check's interval, and refuses
 * every write from then on with STORE_DIR_LOST naming the directory; reads keep working, and the
 * commit log keeps every record it acknowledged (no flush or compaction trims it).
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DistkvError } from '../../src/errors.js';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import { openTestGroup } from '../helpers/lsm.js';
import { tempDir } from '../helpers/temp-dir.js';

const b = (s: string): Buffer => Buffer.from(s);

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof DistkvError, `not a DistkvError: ${String(err)}`);
    return err.code;
  }
  return 'none';
}

describe('a store directory removed while the store runs', () => {
  it('refuses writes with STORE_DIR_LOST from its next flush on, and keeps serving reads', async () => {
    const root = tempDir(after);
    const dirs = [0, 1].map((i) => join(root, 'node_1', `shard-${i}`));
    const { log, stores } = await openTestGroup(join(root, 'log', 'w0'), dirs, { dirCheckMs: 0 });
    const [gone, kept] = stores as [(typeof stores)[0], (typeof stores)[0]];
    try {
      for (let k = 0; k < 20; k++) await gone.put(b(`k${k}`), b(`v${k}`));
      rmSync(dirs[0]!, { recursive: true, force: true });
      // The flush is where it is noticed: it builds nothing into the missing directory.
      assert.equal(await codeOf(gone.flush()), 'none'); // drain gives up quietly, the memtable stays frozen
      const err = await gone.put(b('after'), b('x')).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof DistkvError, 'a write after the flush noticed the removal was acknowledged');
      assert.equal(err.code, 'STORE_DIR_LOST');
      assert.match(err.message, new RegExp(`${dirs[0]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} was removed`));
      assert.match(err.message, /distkv backup/);
      assert.equal(await codeOf(gone.delete(b('k1'))), 'STORE_DIR_LOST');
      // Reads still answer from the memtables the process holds.
      assert.equal(Buffer.from(gone.get(b('k3'))!).toString(), 'v3');
      assert.equal(gone.stats().dirLost, 1);
      // The worker's other store is untouched.
      await kept.put(b('k'), b('v'));
      assert.equal(kept.stats().dirLost, 0);
    } finally {
      for (const s of stores) await s.close();
      await log.close();
    }
  });

  it('notices within its check interval without a flush', async () => {
    const root = tempDir(after);
    const dir = join(root, 'node_1', 'shard-0');
    const { log, stores } = await openTestGroup(join(root, 'log', 'w0'), [dir], { dirCheckMs: 20 });
    const store = stores[0]!;
    try {
      await store.put(b('a'), b('1'));
      rmSync(dir, { recursive: true, force: true });
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(await codeOf(store.put(b('b'), b('2'))), 'STORE_DIR_LOST');
    } finally {
      await store.close();
      await log.close();
    }
  });

  it('notices a directory replaced by another one of the same name (the in-memory twin)', async () => {
    const root = tempDir(after);
    const dir = join(root, 'node_1', 'shard-0');
    const vfs = new FaultyVfs();
    const { log, stores } = await openTestGroup(join(root, 'log', 'w0'), [dir], { vfs, dirCheckMs: 0 });
    const store = stores[0]!;
    try {
      for (let k = 0; k < 10; k++) await store.put(b(`k${k}`), b(`v${k}`));
      vfs.removeTree(dir);
      vfs.mkdirp(join(dir, 'runs'));
      await store.flush();
      assert.equal(await codeOf(store.put(b('b'), b('2'))), 'STORE_DIR_LOST');
      assert.deepEqual(vfs.list(join(dir, 'runs')), [], 'a run was built into the new directory');
    } finally {
      await store.close();
      await log.close();
    }
  });
});
