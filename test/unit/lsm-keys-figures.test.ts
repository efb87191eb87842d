/**
 * The `keys` figure of an LSM store (`/stats` keys, `distkv_store_keys`, RESP DBSIZE and INFO
 * keyspace): an upper bound of the live keys that a delete never raises, that survives a restart,
 * and that is exact once the store compacted its runs and memtables into LMDB (docs/api.md).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Memtable } from '../../src/storage/memtable.js';
import { BlockCache, RunReader } from '../../src/storage/sstable-reader.js';
import { writeRun } from '../../src/storage/sstable-writer.js';
import { RealVfs } from '../../src/storage/real-vfs.js';
import type { LsmStore } from '../../src/storage/lsm-store.js';
import { openTestLsm } from '../helpers/lsm.js';
import { tempDir } from '../helpers/temp-dir.js';

const b = (s: string): Buffer => Buffer.from(s);

/** live counts the keys a full scan returns. */
function live(s: LsmStore): number {
  return s.scan(b(''), undefined, 100000).length;
}

async function waitFor(what: string, ok: () => boolean, ms = 10000): Promise<void> {
  const until = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('LSM keys figure', () => {
  it('counts a memtable key deleted, written again or deleted twice by its newest version', () => {
    const m = new Memtable();
    m.apply('a', 1, b('1'));
    m.apply('b', 2, b('2'));
    m.apply('b', 3, null);
    assert.equal(m.deletes, 1, 'b is deleted');
    m.apply('b', 4, null);
    assert.equal(m.deletes, 1, 'deleting it again changes nothing');
    m.apply('c', 5, null);
    assert.equal(m.deletes, 2, 'a delete of a key the memtable did not hold');
    m.apply('b', 6, b('again'));
    assert.equal(m.deletes, 1, 'b holds a value again');
    assert.equal(m.size - m.deletes, 2);
  });

  it("writes a run's deletes in its footer and reads them back", async () => {
    const dir = tempDir(after);
    const vfs = new RealVfs();
    const m = new Memtable();
    m.apply('a', 1, b('1'));
    m.apply('b', 2, null);
    m.apply('c', 3, null);
    const meta = await writeRun(vfs, dir, 1, m.entries(), m.size, m.minSeq, m.maxSeq);
    assert.equal(meta.tombstones, 2);
    const run = new RunReader(vfs, meta.path, 1, new BlockCache(1 << 20));
    try {
      assert.equal(run.footer.entries, 3);
      assert.equal(run.footer.tombstones, 2);
    } finally {
      run.close();
    }
  });

  it('does not count deleted keys in the memtable: a delete lowers keys (it raised them by one)', async () => {
    const s = await openTestLsm(tempDir(after));
    try {
      await Promise.all(['a', 'b', 'c'].map((k) => s.put(b(k), b('v'))));
      assert.equal(s.stats().keys, 3);
      await s.delete(b('a'));
      assert.equal(s.stats().keys, 2, 'a was deleted');
      await s.delete(b('never-written'));
      assert.equal(s.stats().keys, 2, 'a delete of an absent key counts nothing');
    } finally {
      await s.close();
    }
  });

  it('stays an upper bound that no delete nor restart raises, through flushes and compaction, exact once compacted', async () => {
    const seed = Number(process.env.FIGURES_SEED ?? Date.now() % 100000);
    let n = seed;
    const rand = (k: number): number => (n = (n * 1103515245 + 12345) & 0x7fffffff) % k;
    const dir = tempDir(after);
    // Small memtables and many runs: values of a key spread over several levels before a compaction.
    const opts = { memtableBytes: 1024, maxRuns: 6, idleCompactMs: 60_000 };
    let s = await openTestLsm(dir, opts);
    try {
      for (let step = 0; step < 600; step++) {
        const key = b(`k${rand(40)}`);
        const before = s.stats().keys;
        if (rand(3) === 0) {
          await s.delete(key);
          assert.ok(
            s.stats().keys <= before,
            `seed ${seed} step ${step}: a delete raised keys ${before} -> ${s.stats().keys}`,
          );
        } else await s.put(key, b(`v${step}`.repeat(1 + rand(4))));
        if (rand(50) === 0) await s.flush();
        const count = live(s);
        assert.ok(
          s.stats().keys >= count,
          `seed ${seed} step ${step}: keys ${s.stats().keys} < ${count} live`,
        );
        if (step % 200 === 199) {
          const figure = s.stats().keys;
          await s.close();
          s = await openTestLsm(dir, opts);
          // The close flushes the memtable; a run over max_runs then compacts, which lowers it.
          const again = s.stats().keys;
          assert.ok(
            again <= figure,
            `seed ${seed} step ${step}: a restart raised keys ${figure} -> ${again}`,
          );
          assert.ok(
            again >= live(s),
            `seed ${seed} step ${step}: keys ${again} < ${live(s)} live after a restart`,
          );
        }
      }
      await s.close();
      // Compacted when idle: every level merged into LMDB, the figure is exact.
      s = await openTestLsm(dir, { ...opts, idleCompactMs: 50 });
      await s.put(b('last'), b('v'));
      await s.flush();
      await waitFor('an idle compaction', () => {
        const st = s.stats();
        return st.runs === 0 && st.memtableKeys === 0 && st.frozenMemtables === 0;
      });
      await s.idle();
      assert.equal(s.stats().keys, live(s), `seed ${seed}: keys once compacted`);
    } finally {
      await s.close();
    }
  });
});
