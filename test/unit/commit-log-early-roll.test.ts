/**
 * The early roll (docs/commit-log-format.md, "Rolling"): a segment that was not preallocated (a new
 * log's first, or the one a log continues when it opens) rolls into a spare as soon as it took
 * EARLY_ROLL_BYTES and the spare is ready, so a node that takes writes writes over zeros within a
 * second of starting rather than after a whole segment; one that takes few writes never zero-fills
 * a spare.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SPARE_NAME } from '../../src/storage/commit-log-spare.js';
import { EARLY_ROLL_BYTES } from '../../src/storage/commit-log-roll.js';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import type { Vfs } from '../../src/storage/vfs.js';
import { TYPE_PUT } from '../../src/storage/wal-format.js';
import {
  LOG_DIR,
  openTestLog,
  recoverLog,
  segmentFiles,
  STORE,
  type TestLog,
} from '../helpers/commit-log.js';

const SEGMENT = 8 * EARLY_ROLL_BYTES;
const VALUE = Buffer.alloc(10 * 1024, 7);

/** writeBytes appends records of VALUE from index `from` until about `bytes` were written; returns the next index. */
async function writeBytes(t: TestLog, bytes: number, from: number): Promise<number> {
  let i = from;
  for (let done = 0; done < bytes; done += VALUE.length)
    await t.log.append(TYPE_PUT, Buffer.from(`k${i++}`), VALUE);
  return i;
}

/** writeUntilSegments appends until the log has `n` segments (at most `max` records); returns the next index. */
async function writeUntilSegments(vfs: Vfs, t: TestLog, n: number, from: number, max = 400): Promise<number> {
  let i = from;
  while (segmentFiles(vfs).length < n && i - from < max)
    await t.log.append(TYPE_PUT, Buffer.from(`k${i++}`), VALUE);
  return i;
}

async function recoveredSeqs(vfs: Vfs): Promise<number[]> {
  const { records, rec } = await recoverLog(vfs);
  assert.deepEqual(rec.damage, []);
  return records.filter((r) => r[0] === STORE).map((r) => r[1]);
}

describe('commit log: early roll into a spare', () => {
  it('leaves a growing first segment for a preallocated one once it took EARLY_ROLL_BYTES', async () => {
    const vfs = new FaultyVfs();
    const t = await openTestLog(vfs, { segmentBytes: SEGMENT });
    let next = await writeBytes(t, EARLY_ROLL_BYTES + VALUE.length, 1);
    next = await writeUntilSegments(vfs, t, 2, next);
    const files = segmentFiles(vfs);
    assert.equal(files.length, 2, 'rolled early, long before the first segment was full');
    assert.ok(vfs.file(files[0]!).data.length < 2 * EARLY_ROLL_BYTES, 'the first segment ended early');
    assert.equal(vfs.file(files[1]!).data.length, SEGMENT, 'the second is a whole spare');
    await t.close();
    assert.deepEqual(
      await recoveredSeqs(vfs),
      Array.from({ length: next - 1 }, (_, k) => k + 1),
    );

    // Reopened, the log continues its newest segment by appending (sealed to its frames), and
    // rolls early again once it took EARLY_ROLL_BYTES more.
    const again = await openTestLog(vfs, { segmentBytes: SEGMENT });
    next = await writeBytes(again, EARLY_ROLL_BYTES + VALUE.length, next);
    next = await writeUntilSegments(vfs, again, 3, next);
    const after = segmentFiles(vfs);
    assert.equal(after.length, 3);
    assert.equal(vfs.file(after[2]!).data.length, SEGMENT);
    await again.close();
    assert.deepEqual(
      await recoveredSeqs(vfs),
      Array.from({ length: next - 1 }, (_, k) => k + 1),
    );
  });

  it('prepares no spare for a log that takes less than EARLY_ROLL_BYTES', async () => {
    const vfs = new FaultyVfs();
    const t = await openTestLog(vfs, { segmentBytes: SEGMENT });
    await writeBytes(t, EARLY_ROLL_BYTES / 2, 1);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(vfs.exists(join(LOG_DIR, SPARE_NAME)), false);
    assert.equal(segmentFiles(vfs).length, 1);
    await t.close();
  });
  it('prepares spares only with durability fsync unless told to (interval and none sync rarely)', async () => {
    for (const durability of ['fsync', 'interval', 'none'] as const) {
      const vfs = new FaultyVfs();
      const t = await openTestLog(vfs, { segmentBytes: 4096, durability, preallocate: 'default' });
      let i = 1;
      while (segmentFiles(vfs).length < 3 && i < 400)
        await t.log.append(TYPE_PUT, Buffer.from(`k${i++}`), VALUE.subarray(0, 500));
      // Open, the newest segment is a whole spare exactly when the log preallocates.
      const newest = segmentFiles(vfs).at(-1)!;
      assert.equal(vfs.file(newest).data.length === 4096, durability === 'fsync', durability);
      await t.close();
      const { rec } = await recoverLog(vfs);
      assert.deepEqual(rec.damage, []);
    }
  });
});
