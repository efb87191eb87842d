/**
 * The byte figures of LSM stores that share a worker's commit log (`/stats` bytes and walBytes,
 * `distkv_store_disk_bytes` and `_wal_bytes`): a store's `bytes` are its own files (LMDB and runs),
 * so a sum over the stores counts the log once per worker in `walBytes`, not once per store.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MemoryStore } from '../../src/storage/memory-store.js';
import { openTestGroup } from '../helpers/lsm.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('byte figures of the stores', () => {
  it("does not count another store's writes in a store's bytes (they count the shared log in both)", async () => {
    const dir = tempDir(after);
    const { log, stores } = await openTestGroup(join(dir, 'log'), [join(dir, 'a'), join(dir, 'b')]);
    const [a, b] = stores as [(typeof stores)[0], (typeof stores)[0]];
    try {
      const before = b.stats();
      for (let i = 0; i < 40; i++) await a.put(Buffer.from(`k${i}`), Buffer.alloc(500, 1));
      const after = b.stats();
      assert.equal(after.bytes, before.bytes, "b's own files did not change");
      assert.ok(
        Number(after.walBytes) >= Number(before.walBytes) + 40 * 500,
        'the shared log grew by the writes',
      );
      assert.equal(a.stats().walBytes, after.walBytes, 'both report the one log');
      await a.flush();
      const st = a.stats();
      assert.ok(Number(st.runBytes) >= 40 * 500, `a's run holds the values: ${st.runBytes}`);
      assert.equal(
        st.bytes,
        Number(st.lmdbBytes) + Number(st.runBytes),
        "a's bytes are its LMDB and its run",
      );
    } finally {
      for (const s of stores) await s.close();
      await log.close();
    }
  });

  it('gives a memory store no disk bytes: its values are memory (memBytes)', async () => {
    const m = new MemoryStore();
    await m.put(Buffer.from('k'), Buffer.alloc(1000, 1));
    assert.equal(m.stats().bytes, 0);
    assert.ok(Number(m.stats().memBytes) >= 1000);
    await m.close();
  });
});
