/**
 * Files and standard input the CLI reads and writes. Every failure becomes a UsageError naming the
 * path and the reason ("cannot read /missing: no such file or directory"), never a stack trace.
 */
import { closeSync, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { HARD_MAX_VALUE_BYTES } from '../config/schema.js';
import { reasonOf } from '../util/fs-reason.js';
import { UsageError } from './args.js';

/** notRegular names what a path that is not a regular file is (a directory, a named pipe, a device, a socket); undefined for a regular file. */
export function notRegular(s: Stats): string | undefined {
  if (s.isFile()) return undefined;
  if (s.isDirectory()) return 'a directory';
  if (s.isFIFO()) return 'a named pipe (FIFO)';
  if (s.isCharacterDevice()) return 'a character device';
  if (s.isBlockDevice()) return 'a block device';
  if (s.isSocket()) return 'a socket';
  return 'not a file';
}

/** fileProblem turns a file system error into a one-line UsageError for `what` (e.g. "cannot read FILE"). */
export function fileProblem(what: string, err: unknown): UsageError {
  return new UsageError(`${what}: ${reasonOf(err)}`);
}

/** READ_CHUNK is how much readInput asks the file for at a time. */
const READ_CHUNK = 1024 * 1024;

/**
 * readInput reads a whole file, or standard input for "-", of at most `maxBytes` (by default
 * HARD_MAX_VALUE_BYTES, the largest value any node's config may allow). A longer input is refused
 * (UsageError naming the bound) once `maxBytes` + 1 bytes were read, or, for a regular file, from
 * its size before reading: `--file /dev/zero` or a 3 GB file used to read on until memory ran out
 * (or failed with a bare ERR_FS_FILE_TOO_LARGE), for a value no node would take.
 */
export function readInput(path: string, maxBytes = HARD_MAX_VALUE_BYTES, source?: string): Buffer {
  // `source` is the option or variable that named the file ("--ca"): a bare "cannot read FILE"
  // left the user to guess which of a command's files it was.
  const prefix = source === undefined ? '' : `${source}: `;
  const name = path === '-' ? 'standard input' : path;
  const tooLong = (): UsageError =>
    new UsageError(
      `${prefix}${name} holds more than ${maxBytes} bytes, the largest value any distkv node takes (server.max_value_bytes is at most ${maxBytes})`,
      false,
    );
  // A terminal on standard input waits for typing, which looked like a hang: say what it waits for.
  if (path === '-' && process.stdin.isTTY)
    process.stderr.write(
      '(reading standard input from the terminal: type the value, then Ctrl-D on a new line)\n',
    );
  let fd: number | undefined;
  try {
    fd = path === '-' ? 0 : openSync(path, 'r');
    const st = fstatSync(fd);
    if (st.isDirectory()) throw Object.assign(new Error('EISDIR'), { code: 'EISDIR' });
    if (st.isFile() && st.size > maxBytes) throw tooLong();
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(READ_CHUNK);
      let n: number;
      try {
        n = readSync(fd, chunk, 0, READ_CHUNK, null);
      } catch (err) {
        // A non-blocking standard input (some pipes and terminals) has nothing yet: wait for it.
        if ((err as { code?: unknown }).code !== 'EAGAIN') throw err;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
        continue;
      }
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      total += n;
      if (total > maxBytes) throw tooLong();
    }
    return Buffer.concat(chunks, total);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw fileProblem(`${prefix}cannot read ${name}`, err);
  } finally {
    if (fd !== undefined && fd !== 0) closeSync(fd);
  }
}
