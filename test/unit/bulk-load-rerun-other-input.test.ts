/**
 * A load run again over an unfinished one, with another input. docs/bulk-load.md tells the user,
 * for a load that stopped (Ctrl-C, killed, disk full, a mistake in the input), to "fix the input
 * and run the load again": the store keeps its LOADING marker, which lets the next load past the
 * emptiness checks. When the first load was stopped in its last step (its runs merged into LMDB in
 * transactions of 20,000 keys, or all of them synced and only the marker left to remove), LMDB
 * already holds keys of the first input. The second load deletes the first one's runs but not
 * those keys: the store then serves keys that are in no input it was given, with no word from the
 * load (exit 0, "durable"), and with seqs above the store's last seq (a later write of such a key
 * moves its version back).
 *
 * Seen with the real command: `distkv load` of 1.2M lines killed with SIGKILL while it finished
 * the stores, then a load of 1,000 other lines into the same directory: exit 0, "loaded 1000
 * lines", and the node served 81,000 keys, a key of the first input at version 0.618 on a store
 * whose last seq was 500 (a PUT of it then answered version 0.501).
 *
 * The state is made here as the kill leaves it after LMDB synced (the case bulk-load.ts itself
 * names: the marker left after `finish`).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { BulkLoader } from '../../src/storage/bulk-load.js';
import { LOADING_MARKER } from '../../src/storage/bulk-load-marker.js';
import { RealVfs } from '../../src/storage/real-vfs.js';
import { openTestLsm } from '../helpers/lsm.js';
import { tempDir } from '../helpers/temp-dir.js';

const b = (s: string): Buffer => Buffer.from(s);

/** unfinishedLoad leaves `dir` as a load of `keys` killed after LMDB synced it, before its marker went. */
async function unfinishedLoad(dir: string, keys: string[]): Promise<void> {
  const first = await BulkLoader.open(dir, new RealVfs());
  await first.add(keys.map((k) => ({ key: b(k), value: b(`wrong ${k}`) })));
  await first.finish(undefined);
  writeFileSync(join(dir, LOADING_MARKER), 'bulk load in progress\n');
}

describe('a load run again with another input over an unfinished one', () => {
  it('holds only the keys of the input it loaded', async () => {
    const dir = tempDir(after);
    await unfinishedLoad(
      dir,
      Array.from({ length: 50 }, (_, i) => `wrong-${String(i).padStart(3, '0')}`),
    );
    const again = await BulkLoader.open(dir, new RealVfs());
    await again.add([
      { key: b('right-a'), value: b('1') },
      { key: b('right-b'), value: b('2') },
    ]);
    assert.equal(await again.finish(undefined), 2);
    const s = await openTestLsm(dir);
    try {
      const keys = s.scan(b(''), undefined, 1000).map((e) => Buffer.from(e.key).toString());
      assert.deepEqual(
        keys,
        ['right-a', 'right-b'],
        `the store serves ${keys.length} keys, ${keys.filter((k) => k.startsWith('wrong')).length} of them from the earlier, unfinished load`,
      );
    } finally {
      await s.close();
    }
  });

  it('gives no key a seq above the store last seq', async () => {
    const dir = tempDir(after);
    await unfinishedLoad(
      dir,
      Array.from({ length: 50 }, (_, i) => `k-${String(i).padStart(3, '0')}`),
    );
    const again = await BulkLoader.open(dir, new RealVfs());
    await again.add([{ key: b('k-000'), value: b('right') }]);
    await again.finish(undefined);
    const s = await openTestLsm(dir);
    try {
      const last = s.lastSeq();
      const above = s.scan(b(''), undefined, 1000).filter((e) => e.seq > last);
      assert.deepEqual(
        above.map((e) => `${Buffer.from(e.key).toString()}@${e.seq}`),
        [],
        `keys with a seq above the store's last seq ${last}: a write of one moves its version back`,
      );
    } finally {
      await s.close();
    }
  });

  it('holds only the last input when a rerun itself stopped at any step', async () => {
    const dir = tempDir(after);
    await unfinishedLoad(dir, ['first-a', 'first-b']);
    // A rerun stopped after it emptied the store and wrote a run (killed before finishing).
    const stopped = await BulkLoader.open(dir, new RealVfs());
    await stopped.add([{ key: b('second'), value: b('2') }]);
    await stopped.abort();
    // A rerun stopped mid-finish: LMDB holds its keys, the marker stays.
    await unfinishedLoad(dir, ['third-a', 'third-b', 'third-c']);
    const last = await BulkLoader.open(dir, new RealVfs());
    await last.add([{ key: b('fourth'), value: b('4') }]);
    assert.equal(await last.finish(undefined), 1);
    const s = await openTestLsm(dir);
    try {
      assert.deepEqual(
        s.scan(b(''), undefined, 1000).map((e) => `${Buffer.from(e.key).toString()}@${e.seq}`),
        ['fourth@1'],
      );
      assert.equal(s.lastSeq(), 1);
    } finally {
      await s.close();
    }
  });
});
