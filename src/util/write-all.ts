/**
 * Writing all of a buffer to a file, or failing: write(2) may take fewer bytes than it was given
 * and return that count without an error (ext4 on a nearly full disk takes what fits, a file size
 * limit takes what is below it); only the next write says why it stopped. A caller that ignores
 * the count fsyncs and renames a file cut short under a name that says it is whole (a divergence
 * file, src/replication/diverged-file.ts; a backup, src/cli/backup-file.ts;
 * test/robustness/diverged-file-disk-full.test.ts). So every write of a file distkv keeps goes
 * through here: what a write left is written on, and a write that takes nothing without an error
 * fails with ENOSPC (as the next one would), never looping for ever.
 */
import { writeSync } from 'node:fs';

/** WriteAt writes `length` bytes from `offset` of the caller's buffer at file position `position`, resolving to how many it took. */
export type WriteAt = (offset: number, length: number, position: number) => Promise<number>;

/**
 * tookNothing is the error of a write that took no byte and reported no error: Node's ENOSPC
 * (code, errno, syscall and message as `writeSync` throws it), so callers that read the code
 * (reasonOf, toDistkvError, dirError) say "no space left" as for the write that fails next.
 */
export function tookNothing(): NodeJS.ErrnoException {
  return Object.assign(
    new Error('ENOSPC: no space left on device, write (the file system took no more bytes)'),
    { code: 'ENOSPC', errno: -28, syscall: 'write' },
  );
}

/**
 * writeAllSync writes every byte of `data` to `fd` (at `position`, else at the file's current
 * offset), continuing short writes; throws the file system's error, or ENOSPC for a write that took
 * nothing (tookNothing). When it throws, part of `data` may have been written.
 */
export function writeAllSync(fd: number, data: Uint8Array | string, position?: number): void {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  for (let done = 0; done < bytes.length;) {
    const n = writeSync(
      fd,
      bytes,
      done,
      bytes.length - done,
      position === undefined ? null : position + done,
    );
    if (n === 0) throw tookNothing();
    done += n;
  }
}

/**
 * writeAll is writeAllSync over an asynchronous `write` of `length` bytes at `position` (a
 * FileHandle's, or fs.write's callback on a descriptor).
 */
export async function writeAll(write: WriteAt, length: number, position: number): Promise<void> {
  for (let done = 0; done < length;) {
    const n = await write(done, length - done, position + done);
    if (n === 0) throw tookNothing();
    done += n;
  }
}
