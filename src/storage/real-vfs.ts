/**
 * RealVfs: the Vfs over node:fs. Syncs are asynchronous (libuv thread pool), so a shard worker keeps
 * serving reads while a group commit's fdatasync is in flight; they go through node:fs's callback
 * API on the file's descriptor, not FileHandle's promise API and its per-call request and promise
 * (docs/performance.md, "Worker CPU per write (issues 18, 16), second pass"). Appends are
 * synchronous pwrites: they only copy into the page cache (microseconds), and handing each group commit's write to the thread
 * pool cost more than the write itself (a futex wake-up and two context switches per batch; see
 * docs/performance.md). Positional reads are synchronous preads (SSTable blocks come from the page
 * cache).
 */
import {
  closeSync,
  existsSync,
  fdatasync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmdirSync,
  unlinkSync,
  fstatSync,
  writeSync,
} from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import type { ReadableFile, Vfs, WritableFile } from './vfs.js';

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
    try {
      let done = 0;
      while (done < data.length)
        done += writeSync(this.handle.fd, data, done, data.length - done, this.size + done);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    this.size += data.length;
    return Promise.resolve();
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
  mkdirp(dir: string): void {
    mkdirSync(dir, { recursive: true });
  }

  list(dir: string): string[] {
    return existsSync(dir) ? readdirSync(dir) : [];
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
    const handle = await open(path, truncate ? 'w' : 'a+');
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

  removeDir(dir: string): void {
    if (existsSync(dir)) rmdirSync(dir);
  }

  syncDir(dir: string): void {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}
