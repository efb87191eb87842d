import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
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

/** churnedLevel writes, rewrites and deletes keys over several transactions, so pages of older trees are freed and reused, and closes it. */
async function churnedLevel(dir: string): Promise<string> {
  const level = new LmdbLevel(dir);
  let seq = 0;
  for (let round = 0; round < 6; round++) {
    const writes = Array.from({ length: 400 }, (_, i) => ({
      key: Buffer.from(`key${String((i * 7 + round * 131) % 1200).padStart(5, '0')}`),
      value: round % 3 === 2 && i % 4 === 0 ? null : Buffer.alloc(40 + ((i + round) % 90), round),
      seq: ++seq,
    }));
    await level.apply(writes, seq);
  }
  await level.close();
  return join(dir, 'lmdb', 'data.mdb');
}

/**
 * CUT_OPEN_READ, run in a child process (a crash must not end the test runner): for each page count
 * from argv[4] (2 if absent) up, copies the store at argv[1] into argv[2], cuts its data file there,
 * opens it and reads every entry (every value's bytes, through their checksums), and prints the cut
 * and what happened before trying the next.
 */
const CUT_OPEN_READ = `
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
const { LmdbLevel } = await import(process.argv[3]);
const [whole, scratch] = process.argv.slice(1, 3);
const bytes = readFileSync(join(whole, 'lmdb', 'data.mdb'));
for (let pages = Number(process.argv[4] ?? 2); pages * 4096 < bytes.length; pages++) {
  rmSync(scratch, { recursive: true, force: true });
  cpSync(whole, scratch, { recursive: true });
  writeFileSync(join(scratch, 'lmdb', 'data.mdb'), bytes.subarray(0, pages * 4096));
  process.stdout.write('cut ' + pages + ' ');
  try {
    const level = new LmdbLevel(scratch);
    for (const e of level.entries(Buffer.alloc(0), undefined, false)) if (e.version.value.length < 0) break;
    await level.close();
    process.stdout.write('opened\\n');
  } catch (err) {
    process.stdout.write(err.name + '\\n');
  }
}
`;

/** cutsOf runs CUT_OPEN_READ over the store in `whole` from page `from` and returns what each cut did, failing if the child died. */
function cutsOf(whole: string, from = 2): string[] {
  const level = new URL('../../src/storage/lmdb-level.js', import.meta.url).href;
  const child = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', CUT_OPEN_READ, whole, join(tempDir(after), 'cut'), level, String(from)],
    { encoding: 'utf8' },
  );
  const lines = child.stdout.trim().split('\n');
  assert.ok(
    child.status === 0 && lines.every((l) => / (opened|CorruptionError)$/.test(l)),
    `exit ${child.status} signal ${child.signal} at ${lines[lines.length - 1]} ${child.stderr}`,
  );
  return lines;
}

describe('LMDB data file check before mapping', () => {
  it('never lets a data file cut at any page crash the process: it is refused, or every key reads', async () => {
    const whole = tempDir(after);
    await churnedLevel(whole);
    const lines = cutsOf(whole);
    assert.ok(
      lines.some((l) => l.endsWith('CorruptionError')),
      'some cut is refused',
    );
  });

  it('refuses a data file cut so that it loses only overflow pages of big values, instead of crashing at their first read', async () => {
    const whole = tempDir(after);
    const file = await filledLevel(whole);
    const level = new LmdbLevel(whole);
    const rewrite = async (key: string, seq: number): Promise<void> => {
      await level.apply([{ key: Buffer.from(key), value: Buffer.alloc(64, seq % 251), seq }], seq);
    };
    // Small commits first, so that later ones find the tree pages they copy in the free list.
    for (let seq = 2001; seq <= 2010; seq++) await rewrite('key00001', seq);
    // Values over ~2 KiB live on overflow pages; a run of 18 pages is appended to the file.
    const before = statSync(file).size / 4096;
    const big = [3000, 9000, 70_000].map((n, i) => ({
      key: Buffer.from(`big${i}`),
      value: Buffer.alloc(n, i + 1),
      seq: 2011 + i,
    }));
    await level.apply(big, 2013);
    // Later commits move the tree pages written after that run back below it: the file ends with
    // overflow pages and pages no tree links to any more.
    for (let seq = 2014; seq <= 2017; seq++) await rewrite('key00002', seq);
    await level.close();
    // No cut crashes the reading child (cutsOf); each that loses pages of the 18-page run is refused
    // (a cut that loses only pages no tree uses any more opens).
    const refused = cutsOf(whole, before).filter((l) => l.endsWith('CorruptionError'));
    assert.ok(refused.length >= 18, refused.join(', '));
  });

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
