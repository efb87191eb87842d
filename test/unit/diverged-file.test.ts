/**
 * saveForkRecords (src/replication/diverged-file.ts): a divergence file named with a seq range holds
 * that whole range. A save that finds part of the range gone from the log and cannot save the keys
 * instead leaves no file behind, so `/stats` (countDiverged) never counts records that were not kept.
 * A `.partial` file a stopped process left in the middle of a save is removed at start
 * (removeUnfinishedSaves): it is never whole, and the store still holds its records.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  countDiverged,
  divergedFileOf,
  removeUnfinishedSaves,
  saveForkRecords,
} from '../../src/replication/diverged-file.js';
import { tempDir } from '../helpers/temp-dir.js';

/** logOf answers readLog as a store's log does: one record of `bytes` bytes per seq, `gone` below `oldest`; it holds no keys. */
function logOf(last: number, oldest: number, bytes = 4) {
  return {
    lastSeq: () => last,
    scan: () => [],
    readLog: (after: number) => {
      if (after + 1 < oldest) return 'gone' as const;
      const n = Math.min(2, last - after);
      return { records: Buffer.alloc(n * bytes, after + 1), lastSeq: after + n, end: last + 1 };
    },
  };
}

/** save is saveForkRecords' file and record count. */
async function save(
  store: Parameters<typeof saveForkRecords>[0],
  file: string,
  fork: number,
): Promise<{ file: string; records: number }> {
  const { file: saved, records } = await saveForkRecords(store, file, fork);
  return { file: saved, records };
}

describe('a divergence file', () => {
  it('holds every record above the fork, under its final name', async () => {
    const root = tempDir(after);
    const dir = join(root, 'shard-0');
    const file = divergedFileOf(dir, 3, 6, 10);
    const saved = await save(logOf(10, 1), file, 5);
    assert.deepEqual(saved, { file, records: 5 });
    assert.equal(readFileSync(file).length, 5 * 4);
    assert.deepEqual(readdirSync(root), ['shard-0.diverged-3-6-10.log']);
    assert.deepEqual(countDiverged(dir), { divergedRecords: 5, divergedFiles: 1 });
  });

  it('is not left behind, partial or whole, when the log no longer holds part of the range and the keys cannot be read', async () => {
    const root = tempDir(after);
    const dir = join(root, 'shard-0');
    const file = divergedFileOf(dir, 3, 6, 10);
    // The first read (after 5) is answered; the next (after 7) finds seq 8 gone.
    let reads = 0;
    const log = logOf(10, 1);
    const store = {
      lastSeq: log.lastSeq,
      readLog: (a: number) => (reads++ === 0 ? log.readLog(a) : ('gone' as const)),
      // The keys saved instead cannot be read either.
      scan: () => {
        throw new Error('EIO: i/o error, read');
      },
    };
    await assert.rejects(saveForkRecords(store, file, 5), /EIO/);
    assert.deepEqual(readdirSync(root), []);
    assert.deepEqual(countDiverged(dir), { divergedRecords: 0, divergedFiles: 0 });
  });

  it('is saved once: a second save of the same records (another epoch in its name) keeps the first file', async () => {
    const root = tempDir(after);
    const dir = join(root, 'shard-0');
    const first = divergedFileOf(dir, 0, 6, 10);
    assert.deepEqual(await save(logOf(10, 1), first, 5), { file: first, records: 5 });
    // The same fork seen again (a pull's 409 DIVERGED, then the new map's fork): nothing new is kept.
    assert.deepEqual(await save(logOf(10, 1), divergedFileOf(dir, 1, 6, 10), 5), {
      file: first,
      records: 0,
    });
    assert.deepEqual(readdirSync(root), ['shard-0.diverged-0-6-10.log']);
    assert.deepEqual(countDiverged(dir), { divergedRecords: 5, divergedFiles: 1 });
    // Other records over the same range (another fork, after a resync) are kept too.
    const other = divergedFileOf(dir, 2, 6, 10);
    assert.deepEqual(await save(logOf(10, 1, 8), other, 5), { file: other, records: 5 });
    assert.deepEqual(countDiverged(dir), { divergedRecords: 10, divergedFiles: 2 });
  });

  it('never replaces a file of the same name that holds other records (two forks of one range under one epoch number)', async () => {
    const root = tempDir(after);
    const dir = join(root, 'shard-0');
    // A replica cut at 5 by a restart epoch 4 (its leader's lost records 6..10), resynced onto that
    // leader's new 6..10, then cut at 5 again by a failover that also took epoch 4: same name.
    const file = divergedFileOf(dir, 4, 6, 10);
    assert.deepEqual(await save(logOf(10, 1), file, 5), { file, records: 5 });
    const firstBytes = readFileSync(file);
    const second = await save(logOf(10, 1, 8), file, 5);
    assert.equal(second.records, 5);
    assert.notEqual(second.file, file, 'the second save took the name of the first');
    assert.deepEqual(readFileSync(file), firstBytes, 'the records of the first fork were overwritten');
    assert.equal(readFileSync(second.file).length, 5 * 8);
    assert.deepEqual(countDiverged(dir), { divergedRecords: 10, divergedFiles: 2 });
    // A third save of either set of records keeps the file that holds them.
    assert.deepEqual(await save(logOf(10, 1, 8), file, 5), { file: second.file, records: 0 });
    assert.deepEqual(await save(logOf(10, 1), file, 5), { file, records: 0 });
    assert.deepEqual(countDiverged(dir), { divergedRecords: 10, divergedFiles: 2 });
  });

  it("is removed at start when a stopped process left it partial, and nobody else's file is", () => {
    const root = tempDir(after);
    const dir = join(root, 'shard-0');
    const whole = divergedFileOf(dir, 3, 6, 10);
    const partial = `${divergedFileOf(dir, 3, 6, 10, 4)}.partial`;
    const other = `${divergedFileOf(join(root, 'shard-1'), 3, 6, 10)}.partial`;
    for (const f of [whole, partial, other, join(root, 'notes.partial')]) writeFileSync(f, 'x');
    assert.deepEqual(removeUnfinishedSaves(dir, undefined), [partial]);
    assert.deepEqual(readdirSync(root).sort(), [
      'notes.partial',
      'shard-0.diverged-3-6-10.log',
      'shard-1.diverged-3-6-10.log.partial',
    ]);
    assert.deepEqual(countDiverged(dir), { divergedRecords: 5, divergedFiles: 1 });
    assert.deepEqual(removeUnfinishedSaves(join(root, 'absent', 'shard-0'), undefined), []);
  });
});
