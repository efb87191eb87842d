import assert from 'node:assert/strict';
import { readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CorruptionError } from '../../src/errors.js';
import { LmdbLevel } from '../../src/storage/lmdb-level.js';
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
  it('refuses a data file cut short, naming the file and where it ends, instead of crashing the process', async () => {
    const dir = tempDir(after);
    const file = await filledLevel(dir);
    const size = statSync(file).size;
    for (const cut of [size - 4096, Math.floor(size / 2) + 123, 3 * 4096]) {
      truncateSync(file, cut);
      assert.throws(
        () => new LmdbLevel(dir),
        (err: unknown) =>
          err instanceof CorruptionError &&
          err.file === file &&
          err.offset === cut &&
          /cut short/.test(err.message),
        `cut at ${cut} of ${size}`,
      );
    }
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
