/**
 * RealVfs: the Vfs over node:fs. Syncs are asynchronous (libuv thread pool), so a shard worker keeps
 * serving reads while a group commit's fdatasync is in flight; they go through node:fs's callback
 * API on the file's descriptor, not FileHandle's promise API and its per-call request and promise
 * (docs/performance.md, "Worker CPU per write (issues 18, 16), second pass"). Appends are
 * synchronous pwrites: they only copy into the page cache (microseconds), and handing each group commit's write to the thread
 * pool cost more than the write itself (a futex wake-up and two context switches per batch; see
 * docs/performance.md). Positional writes over a preallocated commit log segment are the same
 * synchronous pwrites; only `appendZeros` (preparing a spare segment, megabytes at a time) goes
 * through the thread pool. Files are opened without O_APPEND (Linux ignores a pwrite's position
 * under it): appends are pwrites at the size this handle tracks. Positional reads are synchronous
 * preads (SSTable blocks come from the page cache).
 */
import {
  closeSync,
  constants,
  existsSync,
  fdatasync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmdirSync,
  statSync,
  statfsSync,
  unlinkSync,
  fstatSync,
  write,
} from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { dirError } from './dir-errors.js';
import type { ReadableFile, Vfs, WritableFile } from './vfs.js';
import { syncPath } from '../util/durable-file.js';
import { writeAll, writeAllSync } from '../util/write-all.js';

class RealWritableFile implements WritableFile {
  readonly path: string;
  size: number;
  private readonly handle: FileHandle;
  /** syncs counts fdatasyncs in flight: close waits for them, so the descriptor outlives them. */
  private syncs = 0;
  private synced: (() => void)[] = [];

  constructor(path: string, handle: FileHandle, size: number) {
    this.path = path;
    this.handle = handle;
    this.size = size;
  }

  append(data: Uint8Array): Promise<void> {
    return this.writeAt(data, this.size);
  }

  writeAt(data: Uint8Array, position: number): Promise<void> {
    try {
      writeAllSync(this.handle.fd, data, position);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    this.size = Math.max(this.size, position + data.length);
    return Promise.resolve();
  }

  /** appendZeros: one call at a time (the size moves when the write completes). */
  async appendZeros(length: number): Promise<void> {
    const zeros = Buffer.alloc(length);
    const writeZeros = (offset: number, n: number, at: number): Promise<number> =>
      new Promise<number>((resolve, reject) => {
        write(this.handle.fd, zeros, offset, n, at, (err, took) => {
          if (err === null) resolve(took);
          else reject(err);
        });
      });
    await writeAll(writeZeros, length, this.size);
    this.size += length;
  }

  sync(): Promise<void> {
    return new Promise((resolve, reject) => {
      fdatasync(this.handle.fd, (err) => {
        if (--this.syncs === 0) for (const f of this.synced.splice(0)) f();
        if (err === null) resolve();
        else reject(err);
      });
      // Counted once in flight: on a closed handle (fd -1) fdatasync throws, and close must not wait for it.
      this.syncs++;
    });
  }

  async truncate(size: number): Promise<void> {
    await this.handle.truncate(size);
    this.size = size;
  }

  async close(): Promise<void> {
    if (this.syncs > 0)
      await new Promise<void>((resolve) => {
        this.synced.push(resolve);
      });
    await this.handle.close();
  }
}

class RealReadableFile implements ReadableFile {
  readonly path: string;
  readonly size: number;
  private fd: number;

  constructor(path: string) {
    this.path = path;
    this.fd = openSync(path, 'r');
    this.size = fstatSync(this.fd).size;
  }

  readAt(position: number, length: number): Buffer {
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, buf, done, length - done, position + done);
      if (n === 0) break;
      done += n;
    }
    return done === length ? buf : buf.subarray(0, done);
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/** RealVfs is the Vfs of the real file system. */
export class RealVfs implements Vfs {
  // A file where a directory belongs, or one distkv may not enter, is named with what to do
  // (dir-errors.ts), not left as mkdir's or readdir's bare EEXIST, ENOTDIR or EACCES.
  mkdirp(dir: string): void {
    try {
      mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw dirError(dir, err, 'create') ?? err;
    }
  }

  list(dir: string): string[] {
    try {
      return existsSync(dir) ? readdirSync(dir) : [];
    } catch (err) {
      throw dirError(dir, err, 'read') ?? err;
    }
  }

  listDirs(dir: string): string[] {
    if (!existsSync(dir)) return [];
    try {
      return readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch (err) {
      throw dirError(dir, err, 'read') ?? err;
    }
  }

  exists(path: string): boolean {
    return existsSync(path);
  }

  readFile(path: string): Buffer {
    return readFileSync(path);
  }

  openRead(path: string): ReadableFile {
    return new RealReadableFile(path);
  }

  async openAppend(path: string, truncate: boolean): Promise<WritableFile> {
    const handle = await open(path, truncate ? 'w' : constants.O_RDWR | constants.O_CREAT);
    const { size } = await handle.stat();
    return new RealWritableFile(path, handle, size);
  }

  async writeFile(path: string, data: Uint8Array): Promise<void> {
    const f = await this.openAppend(path, true);
    try {
      await f.append(data);
      await f.sync();
    } finally {
      await f.close();
    }
  }

  rename(from: string, to: string): void {
    renameSync(from, to);
  }

  unlink(path: string): void {
    unlinkSync(path);
  }

  dirIdentity(dir: string): string | undefined {
    const st = statSync(dir, { throwIfNoEntry: false, bigint: true });
    return st?.isDirectory() === true ? `${String(st.dev)}:${String(st.ino)}` : undefined;
  }

  removeDir(dir: string): void {
    if (existsSync(dir)) rmdirSync(dir);
  }

  freeBytes(dir: string): number {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  }

  syncDir(dir: string): void {
    syncPath(dir);
  }
}
