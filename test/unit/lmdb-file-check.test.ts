import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CorruptionError } from '../../src/errors.js';
import { LmdbLevel } from '../../src/storage/lmdb-level.js';
import { LmdbStore } from '../../src/storage/lmdb-store.js';
import { tempDir } from '../helpers/temp-dir.js';

/** filledLevel writes enough values into a fresh level that its data file spans many pages, and closes it. */
async function filledLevel(dir: string): Promise<string> {
  const level = new LmdbLevel(dir);
  const writes = Array.from({ length: 2000 }, (_, i) => ({
    key: Buffer.from(`key${String(i).padStart(5, '0')}`),
    value: Buffer.alloc(64, i % 251),
    seq: i + 1,
  }));
  await level.apply(writes, writes.length);
  await level.close();
  return join(dir, 'lmdb', 'data.mdb');
}

describe('LMDB data file check before mapping', () => {
  it('refuses a data file cut before the pages its trees link to, naming the file and where it ends, instead of crashing the process', async () => {
    const dir = tempDir(after);
    const file = await filledLevel(dir);
    const whole = readFileSync(file);
    // A store with data links to pages past the two meta pages.
    for (const cut of [2 * 4096, 2 * 4096 + 123]) {
      writeFileSync(file, whole.subarray(0, cut));
      assert.throws(
        () => new LmdbLevel(dir),
        (err: unknown) =>
          err instanceof CorruptionError &&
          err.file === file &&
          err.offset === cut &&
          /cut short/.test(err.message),
        `cut at ${cut} of ${whole.length}`,
      );
    }
  });

  it('opens a healthy data file that ends before the last page its meta counts (pages a commit allocated and freed are never written)', async () => {
    const dir = tempDir(after);
    const options = { dir, durability: 'fsync' as const, fsyncIntervalMs: 20, clock: Date.now };
    let store = new LmdbStore(options);
    for (let i = 0; i < 5; i++) await store.put(Buffer.from('a'), Buffer.alloc(10, i));
    for (let round = 0; round < 3; round++) {
      // A big value and its delete in one event turn share a transaction: LMDB allocates its
      // overflow pages at the end of the file, frees them in the same commit and never writes them.
      await Promise.all([
        store.put(Buffer.from('big'), Buffer.alloc(70_000, 2)),
        store.delete(Buffer.from('big')),
      ]);
      await store.put(Buffer.from('a'), Buffer.alloc(10, round));
    }
    await store.close();
    const file = join(dir, 'data.mdb');
    const bytes = readFileSync(file);
    const newest = [0, 4096].reduce((a, b) =>
      bytes.readBigUInt64LE(b + 152) > bytes.readBigUInt64LE(a + 152) ? b : a,
    );
    const lastPage = Number(bytes.readBigUInt64LE(newest + 144));
    assert.ok(bytes.length < (lastPage + 1) * 4096, `file of ${bytes.length} bytes, last page ${lastPage}`);
    store = new LmdbStore(options);
    assert.deepEqual(store.get(Buffer.from('a')), Buffer.alloc(10, 2));
    assert.equal(store.get(Buffer.from('big')), undefined);
    await store.close();
  });

  it('refuses a data file with a zeroed meta page, naming the page, instead of crashing the process', async () => {
    for (const page of [0, 1]) {
      const dir = tempDir(after);
      const file = await filledLevel(dir);
      const bytes = readFileSync(file);
      bytes.fill(0, page * 4096, page * 4096 + 4096);
      writeFileSync(file, bytes);
      assert.throws(
        () => new LmdbLevel(dir),
        (err: unknown) =>
          err instanceof CorruptionError &&
          err.file === file &&
          err.offset === page * 4096 &&
          /meta page/.test(err.message),
        `page ${page}`,
      );
    }
  });

  it('opens a whole data file, and a new one', async () => {
    const dir = tempDir(after);
    await filledLevel(dir);
    const level = new LmdbLevel(dir);
    assert.equal(level.appliedSeq(), 2000);
    assert.equal(Buffer.from((level.get(Buffer.from('key01999')) as { value: Uint8Array }).value).length, 64);
    await level.close();
  });
});
