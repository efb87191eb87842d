/**
 * FileSink (src/cli/backup-file.ts) continues a short write: a file system may take fewer bytes
 * than asked (a disk filling up, a file size limit reached mid-write) without an error, and only
 * the next call says why it stopped. Taken as whole, the backup's last write (the crc) left a file
 * cut short under the name that says it is complete. A write that takes nothing is a failure, as
 * are the errors of the file system, both turned into the command's message by `failed`.
 *
 * The file handle is a twin over a buffer that takes at most `per` bytes a call, and fails with
 * EFBIG past `limit` bytes.
 */
import assert from 'node:assert/strict';
import type { FileHandle } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { FileSink } from '../../src/cli/backup-file.js';

/** shortFile is a file handle twin: what was written is `data`; each write takes at most `per` bytes. */
function shortFile(per: number, limit = Infinity): { fh: FileHandle; data: () => Buffer } {
  let data = Buffer.alloc(0);
  const fh = {
    write(buf: Uint8Array, offset: number, length: number, position: number) {
      if (position >= limit)
        return Promise.reject(Object.assign(new Error('EFBIG: file too large, write'), { code: 'EFBIG' }));
      const n = Math.min(per, length, limit - position);
      const end = Math.max(data.length, position + n);
      if (end > data.length) data = Buffer.concat([data, Buffer.alloc(end - data.length)]);
      Buffer.from(buf.buffer, buf.byteOffset + offset, n).copy(data, position);
      return Promise.resolve({ bytesWritten: n, buffer: buf });
    },
  } as unknown as FileHandle;
  return { fh, data: () => data };
}

/** failed marks the error the sink reports, keeping what it was made of. */
const failed = (err: unknown): Error => new Error(`failed: ${(err as Error).message}`);

describe('FileSink and short writes', () => {
  it('writes every byte when the file system takes a few at a time', async () => {
    const file = shortFile(3);
    const sink = new FileSink(file.fh, failed);
    await sink.write(Buffer.from('header'));
    await sink.write(Buffer.from('0123456789'));
    await sink.writeAt(Buffer.from('HEAD'), 0);
    assert.equal(file.data().toString(), 'HEADer0123456789');
    assert.equal(sink.position, 16);
  });

  it("fails with the file system's error once it takes no more, never leaving a write cut short", async () => {
    const file = shortFile(4, 10);
    const sink = new FileSink(file.fh, failed);
    await sink.write(Buffer.from('01234567'));
    await assert.rejects(sink.write(Buffer.from('89ab')), /^Error: failed: EFBIG: file too large, write$/);
  });

  it('fails a write that takes nothing without an error', async () => {
    const sink = new FileSink(shortFile(0).fh, failed);
    await assert.rejects(
      sink.write(Buffer.from('x')),
      /^Error: failed: ENOSPC: no space left on device, write \(the file system took no more bytes\)$/,
    );
  });
});
