/**
 * Writing all of a buffer or failing (src/util/write-all.ts): a write that takes part of what it
 * was given is continued, one that takes nothing without an error is ENOSPC (never a loop), and
 * the file system's own error is passed on. ext4 on a nearly full disk takes what fits and returns
 * the short count: ignored, it left divergence files cut short under whole names
 * (test/robustness/diverged-file-disk-full.test.ts).
 */
import assert from 'node:assert/strict';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { tookNothing, writeAll, writeAllSync } from '../../src/util/write-all.js';
import { tempDir } from '../helpers/temp-dir.js';

/** twin is a file that takes at most `per` bytes a write (0: none) and fails past `limit` bytes. */
function twin(
  per: number,
  limit = Infinity,
): { write: (o: number, n: number, p: number) => Promise<number>; data: number[]; src: Buffer } {
  const src = Buffer.from('0123456789abcdef');
  const data: number[] = [];
  const write = (offset: number, length: number, position: number): Promise<number> => {
    if (position >= limit)
      return Promise.reject(Object.assign(new Error('EFBIG: file too large, write'), { code: 'EFBIG' }));
    const n = Math.min(per, length, limit - position);
    for (let i = 0; i < n; i++) data[position + i] = src[offset + i]!;
    return Promise.resolve(n);
  };
  return { write, data, src };
}

describe('writeAll', () => {
  it('writes every byte when the file system takes a few at a time', async () => {
    const f = twin(3);
    await writeAll(f.write, f.src.length, 0);
    assert.equal(Buffer.from(f.data).toString(), '0123456789abcdef');
  });

  it('fails with ENOSPC on a write that takes nothing without an error', async () => {
    const f = twin(0);
    await assert.rejects(writeAll(f.write, 4, 0), (err: NodeJS.ErrnoException) => {
      assert.equal(err.code, 'ENOSPC');
      assert.equal(err.syscall, 'write');
      assert.match(err.message, /^ENOSPC: no space left on device, write/);
      return true;
    });
  });

  it("passes the file system's error on after the part that fitted", async () => {
    const f = twin(4, 10);
    await assert.rejects(writeAll(f.write, f.src.length, 0), /^Error: EFBIG/);
    assert.equal(f.data.length, 10);
  });
});

describe('writeAllSync', () => {
  const dir = tempDir(after);

  it('writes strings and buffers whole, at the offset or at a position', () => {
    const file = join(dir, 'f');
    const fd = openSync(file, 'w');
    try {
      writeAllSync(fd, 'hello ');
      writeAllSync(fd, Buffer.from('world'));
      writeAllSync(fd, 'W', 6);
    } finally {
      closeSync(fd);
    }
    assert.equal(readFileSync(file, 'utf8'), 'hello World');
  });

  it(
    'fails with ENOSPC on a full device',
    { skip: existsSync('/dev/full') ? false : 'no /dev/full here' },
    () => {
      const fd = openSync('/dev/full', 'w');
      try {
        assert.throws(() => {
          writeAllSync(fd, 'x');
        }, /ENOSPC/);
      } finally {
        closeSync(fd);
      }
    },
  );

  it('says a write that took nothing as Node says ENOSPC', () => {
    const err = tookNothing();
    assert.equal(err.code, 'ENOSPC');
    assert.equal(err.errno, -28);
  });
});
