/**
 * The idle trigger (src/storage/compaction-scheduler.ts, "idle") after a lone write into an empty
 * store: a fresh one, or one an idle compaction has just emptied into LMDB. The scheduler hears of
 * the write (`wrote`) before the write reaches the memtable (once durable), and `armIdle` arms no
 * timer for a store with no runs and an empty memtable. Arming the idle check in `wrote` whatever
 * the store held was not enough: a write that took longer than the idle window to land (a loaded
 * disk or event loop; a CI run met it with a 100 ms window) let that check run on the still empty
 * store, which armed nothing more, and the write stayed in the memtable (and the log, untrimmed)
 * until another write came. The last case holds the write's fdatasync (GatedVfs) until the idle
 * check has run, so it makes that race every time: the check is armed when the write lands.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { LsmStore } from '../../src/storage/lsm-store.js';
import { GatedVfs } from '../helpers/gated-vfs.js';
import { openTestLsm } from '../helpers/lsm.js';
import { tempDir } from '../helpers/temp-dir.js';

/** IDLE_MS is the store's idle window; the tests wait many times it. */
const IDLE_MS = 100;

/** open opens a store whose idle flush and compaction come after IDLE_MS without writes. */
function open(dir: string, vfs?: GatedVfs): Promise<LsmStore> {
  return openTestLsm(dir, {
    ...(vfs === undefined ? { durability: 'none' } : { vfs, durability: 'fsync' }),
    memtableBytes: 8192,
    maxRuns: 8,
    walSegmentBytes: 64 * 1024,
    idleCompactMs: IDLE_MS,
  });
}

/** compactedWithin polls (every 20 ms, up to `ms`) until the store holds nothing outside LMDB. */
async function compactedWithin(s: LsmStore, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  for (;;) {
    const st = s.stats();
    if (st.memtableKeys === 0 && st.frozenMemtables === 0 && st.runs === 0) return true;
    if (performance.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('the idle trigger after a lone write into an empty store', () => {
  it('flushes and compacts a lone write into a fresh store once it has been idle', async () => {
    const s = await open(tempDir(after));
    try {
      await s.put(Buffer.from('k'), Buffer.from('v'));
      assert.ok(
        await compactedWithin(s, 50 * IDLE_MS),
        `still ${JSON.stringify(s.stats().memtableKeys)} key in the memtable after ${50 * IDLE_MS} ms idle`,
      );
      assert.equal(s.stats().lmdbKeys, 1);
    } finally {
      await s.close();
    }
  });

  it('flushes and compacts a lone write after an idle compaction emptied the store', async () => {
    const s = await open(tempDir(after));
    try {
      await s.put(Buffer.from('a'), Buffer.from('1'));
      await s.put(Buffer.from('b'), Buffer.from('2'));
      assert.ok(await compactedWithin(s, 50 * IDLE_MS), 'two writes are flushed and compacted');
      await s.put(Buffer.from('c'), Buffer.from('3'));
      assert.ok(
        await compactedWithin(s, 50 * IDLE_MS),
        `still ${JSON.stringify(s.stats().memtableKeys)} key in the memtable after ${50 * IDLE_MS} ms idle`,
      );
      assert.equal(s.stats().lmdbKeys, 3);
    } finally {
      await s.close();
    }
  });

  it('flushes and compacts a lone write that lands after the idle window (its fdatasync held)', async () => {
    const vfs = new GatedVfs();
    const s = await open(tempDir(after), vfs);
    try {
      await s.put(Buffer.from('a'), Buffer.from('1'));
      assert.ok(await compactedWithin(s, 50 * IDLE_MS), 'the first write is flushed and compacted');
      vfs.hold();
      const landed = s.put(Buffer.from('b'), Buffer.from('2'));
      await vfs.untilHeld(1);
      // The idle check `wrote` armed (IDLE_MS + 1 ms) runs before this wait ends: timers fire in
      // order of their due time, however loaded the machine is. It finds the store empty.
      await new Promise((r) => setTimeout(r, 5 * IDLE_MS));
      assert.equal(s.stats().memtableKeys, 0, 'the write has not landed while its sync is held');
      vfs.release();
      await landed;
      assert.ok(
        await compactedWithin(s, 50 * IDLE_MS),
        `still ${JSON.stringify(s.stats().memtableKeys)} key in the memtable after ${50 * IDLE_MS} ms idle`,
      );
      assert.equal(s.stats().lmdbKeys, 2);
    } finally {
      vfs.release();
      await s.close();
    }
  });
});
