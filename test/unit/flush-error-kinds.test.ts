/**
 * What a failing memtable flush refuses writes with (src/storage/dir-errors.ts `flushFailing`).
 * Before, every flush error but EMFILE/ENFILE was 507 DISK_FULL ("memtable flush is failing"),
 * which sends an operator to free space: a read-only file system, a permission denied or a device
 * error each say now what they are and what to do, and only a full disk says DISK_FULL.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DistkvError, toDistkvError } from '../../src/errors.js';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import { openTestGroup } from '../helpers/lsm.js';
import { tempDir } from '../helpers/temp-dir.js';

/** refusalOf makes every flush of a new store fail opening its run with `errno`, writes until one is refused, and returns it. */
async function refusalOf(errno: string): Promise<{ err: DistkvError; dir: string }> {
  const root = tempDir(after);
  const dir = join(root, 'node_1', 'shard-0');
  const vfs = new FaultyVfs();
  const { log, stores } = await openTestGroup(join(root, 'log', 'w0'), [dir], {
    vfs,
    memtableBytes: 4096,
    walSegmentBytes: 1 << 20,
    retryMinMs: 5,
    retryMaxMs: 5,
  });
  const store = stores[0]!;
  try {
    vfs.failOpens(1_000_000, errno);
    let refused: unknown;
    for (let k = 0; k < 200 && refused === undefined; k++)
      await store.put(Buffer.from(`k${k}`), Buffer.alloc(1000, 1)).catch((e: unknown) => (refused = e));
    assert.ok(refused instanceof DistkvError, `no write was refused: ${String(refused)}`);
    return { err: refused, dir };
  } finally {
    vfs.failOpens(0);
    await store.close();
    await log.close();
  }
}

describe('a memtable flush that keeps failing refuses writes with what the failure is', () => {
  it('EROFS: READ_ONLY_FS, telling to remount read-write, not to free space', async () => {
    const { err, dir } = await refusalOf('EROFS');
    assert.equal(err.code, 'READ_ONLY_FS');
    assert.equal(err.status, 507);
    assert.ok(err.message.includes(dir), err.message);
    assert.match(err.message, /read-only/);
    assert.match(err.message, /remount,rw/);
    assert.match(err.message, /the disk is not full/);
  });

  for (const errno of ['EACCES', 'EPERM'])
    it(`${errno}: STORE_DIR_DENIED, naming the directory and the uid that needs access`, async () => {
      const { err, dir } = await refusalOf(errno);
      assert.equal(err.code, 'STORE_DIR_DENIED');
      assert.equal(err.status, 507);
      assert.match(err.message, new RegExp(`permission denied \\(${errno}`));
      // Node's message starts with the code already: said once, and the next sentence starts upper case.
      assert.doesNotMatch(err.message, new RegExp(`${errno}: ${errno}`), err.message);
      assert.match(err.message, /the disk is not full\. The user/, err.message);
      assert.ok(err.message.includes(`chmod -R u+rwX ${dir}`), err.message);
      if (process.getuid !== undefined) assert.match(err.message, new RegExp(`uid ${process.getuid()}`));
    });

  it('EIO: DISK_IO_ERROR, telling to check the device and move the data off it', async () => {
    const { err, dir } = await refusalOf('EIO');
    assert.equal(err.code, 'DISK_IO_ERROR');
    assert.equal(err.status, 507);
    assert.ok(err.message.includes(dir), err.message);
    assert.match(err.message, /I\/O error/);
    assert.match(err.message, /dmesg/);
  });

  it('ENOSPC is still DISK_FULL, telling to free space', async () => {
    const { err } = await refusalOf('ENOSPC');
    assert.equal(err.code, 'DISK_FULL');
    assert.match(err.message, /file system is full/);
    assert.match(err.message, /free space/);
  });

  it('an error it does not classify stays DISK_FULL, saying what failed but not to free space', async () => {
    const { err } = await refusalOf('EBUSY');
    assert.equal(err.code, 'DISK_FULL');
    assert.match(err.message, /EBUSY/);
    assert.doesNotMatch(err.message, /free space/);
  });

  it('a write the file system refuses outside a flush (an LMDB commit) is 507 naming what it was, not 500 INTERNAL', () => {
    const errno = (code: string): Error => Object.assign(new Error(`${code}: failed, write`), { code });
    for (const [code, want] of [
      ['EROFS', 'READ_ONLY_FS'],
      ['EIO', 'DISK_IO_ERROR'],
      ['EACCES', 'STORE_DIR_DENIED'],
      ['EPERM', 'STORE_DIR_DENIED'],
      ['ENOSPC', 'DISK_FULL'],
    ] as const) {
      const err = toDistkvError(errno(code));
      assert.equal(err.code, want, code);
      assert.equal(err.status, 507, code);
      assert.match(err.message, new RegExp(code));
    }
    assert.equal(toDistkvError(new Error('a bug')).code, 'INTERNAL');
  });
});
