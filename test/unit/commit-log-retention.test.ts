/**
 * Retention of a worker's commit log (docs/commit-log-format.md, "Retention") past a store's close:
 * a store that closed with records only in the log (its last flush failed) still needs the segments
 * holding them, whatever the other stores of the worker flush afterwards.
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
});
