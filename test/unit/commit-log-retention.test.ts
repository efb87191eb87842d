/**
 * Retention of a worker's commit log (docs/commit-log-format.md, "Retention") past a store's close:
 * a store that closed with records only in the log (its last flush failed) still needs the segments
 * holding them, whatever the other stores of the worker flush afterwards. And a segment the trim
 * cannot delete stays for the next trim, failing nothing.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import type { LsmStore } from '../../src/storage/lsm-store.js';
import { openTestGroup } from '../helpers/lsm.js';
import { tempDir } from '../helpers/temp-dir.js';

const b = (s: string): Buffer => Buffer.from(s);

describe('commit log retention after a store closes', () => {
  it("keeps the segments holding a closed store's unflushed records while the other stores flush and trim", async () => {
    const root = tempDir(after);
    const vfs = new FaultyVfs();
    const logDir = join(root, 'log', 'w0');
    const dirs = [join(root, 'node_1', 'shard-0'), join(root, 'node_1', 'shard-1')];
    const o = { vfs, walSegmentBytes: 2048, memtableBytes: 1 << 20, maxRuns: 100 };
    const first = await openTestGroup(logDir, dirs, o);
    const [closing, busy] = first.stores as [LsmStore, LsmStore];
    for (let i = 0; i < 20; i++) await closing.put(b(`a${i}`), b('v'.repeat(40)));
    // Its flush at close fails (the run's sync): its acknowledged writes are only in the log now.
    vfs.failSyncs(1);
    await closing.close();
    for (let i = 0; i < 200; i++) await busy.put(b(`b${i}`), b('x'.repeat(40)));
    await busy.flush();
    await busy.close();
    await first.log.close();

    const second = await openTestGroup(logDir, dirs, o);
    try {
      const [reopened] = second.stores as [LsmStore, LsmStore];
      const lost = Array.from({ length: 20 }, (_, i) => `a${i}`).filter(
        (k) => reopened.get(b(k)) === undefined,
      );
      assert.deepEqual(lost, [], 'every acknowledged write of the closed store is still there');
    } finally {
      for (const s of second.stores) await s.close();
      await second.log.close();
    }
  });

  it('keeps a segment whose unlink fails for the next trim, and the flush that trimmed succeeds', async () => {
    const root = tempDir(after);
    const vfs = new FaultyVfs();
    const logDir = join(root, 'log', 'w0');
    const dirs = [join(root, 'node_1', 'shard-0')];
    const o = { vfs, walSegmentBytes: 2048, memtableBytes: 1 << 20, maxRuns: 100 };
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    const group = await openTestGroup(logDir, dirs, o);
    const [s] = group.stores as [LsmStore];
    const segments = (): string[] => vfs.list(logDir).filter((n) => n.endsWith('.log'));
    try {
      for (let i = 0; i < 100; i++) await s.put(b(`a${i}`), b('v'.repeat(40)));
      const before = segments().sort();
      assert.ok(before.length >= 3, `the writes filled several segments (${before.join(', ')})`);
      // The flush makes every segment but the newest trimmable; the first unlink fails (EIO).
      vfs.failUnlinks(1);
      await s.flush();
      assert.deepEqual(
        segments().sort().slice(0, before.length),
        before,
        'no segment was deleted: the oldest one could not be, and the later ones wait for it',
      );
      // A later write and flush trim them all: nothing was forgotten.
      await s.put(b('later'), b('w'));
      await s.flush();
      const left = segments();
      assert.ok(
        before.slice(0, -1).every((n) => !left.includes(n)),
        `the next trim deleted them (${before.join(', ')} -> ${left.join(', ')})`,
      );
      for (let i = 0; i < 100; i++) assert.equal(s.get(b(`a${i}`))?.toString(), 'v'.repeat(40));
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(unhandled, [], 'no rejection went unhandled (it ends a worker thread)');
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await s.close();
      await group.log.close();
    }
  });
});
