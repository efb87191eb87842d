/**
 * A store that moves between workers' logs (docs/commit-log-format.md, "Where": the worker count
 * changed, or a restart after a failover planned it on another worker) and back again, with a
 * crash before each move: the log it returns to may still hold its records from before the first
 * move, and the log it left holds them again (migrated) with the later ones. Every acknowledged
 * write must be there after the second move.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import type { CommitLog } from '../../src/storage/commit-log.js';
import type { LsmStore } from '../../src/storage/lsm-store.js';
import { openTestGroup } from '../helpers/lsm.js';
import { tempDir } from '../helpers/temp-dir.js';

const b = (s: string): Buffer => Buffer.from(s);

/** killed closes what a crashed process left open (its disk is gone: nothing more is written). */
async function killed(g: { log: { close(): Promise<void> }; stores: LsmStore[] }): Promise<void> {
  for (const s of g.stores) await s.close().catch(() => undefined);
  await g.log.close().catch(() => undefined);
}

/** twoStores opens a store that stays on worker 0 and one about to leave, over log w0 with small segments; the leaving one has written a1..a5. */
async function twoStores(): Promise<{
  root: string;
  dirs: [string, string];
  w0: string;
  o: { memtableBytes: number; idleCompactMs: number; walSegmentBytes: number };
  vfs: FaultyVfs;
  first: { log: CommitLog; stores: LsmStore[] };
}> {
  const root = tempDir(after);
  const dirs: [string, string] = [join(root, 'node_1', 'shard-0'), join(root, 'node_1', 'shard-1')];
  const w0 = join(root, 'log', 'w0');
  const o = { memtableBytes: 1 << 20, idleCompactMs: 1e9, walSegmentBytes: 2048 };
  const vfs = new FaultyVfs();
  const first = await openTestGroup(w0, dirs, { ...o, vfs });
  for (let i = 1; i <= 5; i++) await first.stores[1]!.put(b(`a${i}`), b(`v${i}`));
  return { root, dirs, w0, o, vfs, first };
}

describe('a store moving between workers and back', () => {
  it('keeps every write when it returns to a log that still holds its records from before it left', async () => {
    const root = tempDir(after);
    const [quiet, moving] = [join(root, 'node_1', 'shard-0'), join(root, 'node_1', 'shard-1')];
    const w0 = join(root, 'log', 'w0');
    const w1 = join(root, 'log', 'w1');
    const o = { memtableBytes: 1 << 20, idleCompactMs: 1e9 };
    let vfs = new FaultyVfs();
    const first = await openTestGroup(w0, [quiet, moving], { ...o, vfs });
    await first.stores[0]!.put(b('q'), b('quiet'));
    for (let i = 1; i <= 5; i++) await first.stores[1]!.put(b(`a${i}`), b(`v${i}`));
    vfs = vfs.crash();
    await killed(first);

    // Restarted with the store planned on worker 1: it takes its records from log w0.
    const second = await openTestGroup(w1, [moving], { ...o, vfs });
    assert.equal(second.stores[0]!.lastSeq(), 5);
    for (let i = 6; i <= 10; i++) await second.stores[0]!.put(b(`a${i}`), b(`v${i}`));
    vfs = vfs.crash();
    await killed(second);

    // Back on worker 0, whose log still holds seqs 1..5 of it; log w1 holds 1..10.
    const third = await openTestGroup(w0, [quiet, moving], { ...o, vfs });
    try {
      const s = third.stores[1]!;
      const missing = Array.from({ length: 10 }, (_, i) => `a${i + 1}`).filter(
        (k) => s.get(b(k)) === undefined,
      );
      assert.deepEqual(missing, [], 'every acknowledged write is there');
      assert.equal(s.lastSeq(), 10);
    } finally {
      await killed(third);
    }
  });

  it('keeps the records of a store that moved away in the log it left until its new worker took them, whatever the old one flushes first', async () => {
    const { root, dirs, w0, o, vfs: disk, first } = await twoStores();
    const [stays, moving] = dirs;
    let vfs = disk;
    for (let i = 0; i < 50; i++) await first.stores[0]!.put(b(`s${i}`), b('x'.repeat(40)));
    vfs = vfs.crash();
    await killed(first);

    // Restarted with the store planned on worker 1: worker 0 opens (and flushes) before worker 1
    // reads log w0, as two workers starting side by side may.
    const old = await openTestGroup(w0, [stays], { ...o, vfs });
    for (let i = 50; i < 100; i++) await old.stores[0]!.put(b(`s${i}`), b('x'.repeat(40)));
    await old.stores[0]!.flush();
    const moved = await openTestGroup(join(root, 'log', 'w1'), [moving], { ...o, vfs });
    try {
      const s = moved.stores[0]!;
      const missing = Array.from({ length: 5 }, (_, i) => `a${i + 1}`).filter(
        (k) => s.get(b(k)) === undefined,
      );
      assert.deepEqual(missing, [], 'every acknowledged write of the moved store is there');
      // Once it took them (its pointer names log w1 now), log w0 lets them go.
      for (let i = 100; i < 150; i++) await old.stores[0]!.put(b(`s${i}`), b('x'.repeat(40)));
      await old.stores[0]!.flush();
      const left = vfs.list(w0).filter((n) => n.endsWith('.log')).length;
      assert.ok(left <= 2, `log w0 trimmed what only the moved store needed (${left} segments left)`);
    } finally {
      await killed(moved);
      await killed(old);
    }
  });

  it('does not keep segments for a store that closed cleanly and is no longer opened (a shard moved to another node)', async () => {
    const { dirs, w0, o, vfs, first } = await twoStores();
    const [stays] = dirs;
    for (const s of first.stores) await s.close();
    await first.log.close();

    const next = await openTestGroup(w0, [stays], { ...o, vfs });
    try {
      for (let i = 0; i < 100; i++) await next.stores[0]!.put(b(`s${i}`), b('x'.repeat(40)));
      await next.stores[0]!.flush();
      const left = vfs.list(w0).filter((n) => n.endsWith('.log')).length;
      assert.ok(left <= 2, `the log trims what the cleanly closed store left in it (${left} segments left)`);
    } finally {
      for (const s of next.stores) await s.close();
      await next.log.close();
    }
  });
});
