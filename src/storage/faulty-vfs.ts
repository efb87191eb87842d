/**
 * FaultyVfs: the in-memory twin of RealVfs, with the faults a disk and a power cut can cause.
 *
 * Each file keeps its current bytes and the bytes it had at its last successful sync. `crash()`
 * models power loss: every file reverts to its synced bytes, optionally keeping a torn prefix of
 * what was written after (as a disk that wrote part of the last request): appended bytes, or bytes
 * written over old ones (a preallocated segment), whose old bytes come back past the prefix; or,
 * with tear `'pages'`, writes over old bytes survive page by page (PAGE_BYTES) at random, as a disk
 * may write the pages of one request out of order (appended bytes are still a prefix: they count
 * only once the file's size is committed, after their data). Directory operations
 * (create, rename, unlink) are durable at once. `failSyncs(n)` makes the next n syncs fail with EIO
 * (and, as Linux does after a failed fsync, forgets the unsynced bytes); `failUnlinks(n)` the next
 * n unlinks; `failOpens(n)` the next n opens for writing (EMFILE by default); `openReads` counts read handles not yet closed; `setCapacity(bytes)` makes
 * writes that grow the files beyond a total size fail with ENOSPC after writing what fits (writes
 * over existing bytes take no space). Handles opened before a
 * crash fail with EIO afterwards, so the crashed store's leftovers cannot write into the "rebooted" disk.
 */
import { dirname } from 'node:path';
import type { ReadableFile, Vfs, WritableFile } from './vfs.js';

/** PAGE_BYTES is the unit in which crash(`'pages'`) keeps or loses unsynced writes over old bytes, unless told another. */
export const PAGE_BYTES = 4096;

/** Tear is how a crash treats unsynced writes: lost (false), torn as a prefix (true), or kept page by page over old bytes (`'pages'`). */
export type Tear = boolean | 'pages';

interface MemFile {
  data: Buffer;
  synced: Buffer;
}

function errno(code: string, message: string): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(`${code}: ${message}`);
  e.code = code;
  return e;
}

class FaultyWritableFile implements WritableFile {
  readonly path: string;
  private readonly vfs: FaultyVfs;

  constructor(vfs: FaultyVfs, path: string) {
    this.vfs = vfs;
    this.path = path;
  }

  /** stale: after a crash the old disk is gone; every call on it fails. */
  private stale(): Promise<never> | undefined {
    return this.vfs.dead ? Promise.reject(errno('EIO', `${this.path}: the disk crashed`)) : undefined;
  }

  get size(): number {
    return this.vfs.file(this.path).data.length;
  }

  append(data: Uint8Array): Promise<void> {
    return this.stale() ?? this.vfs.doWriteAt(this.path, data, this.size);
  }

  writeAt(data: Uint8Array, position: number): Promise<void> {
    return this.stale() ?? this.vfs.doWriteAt(this.path, data, position);
  }

  appendZeros(length: number): Promise<void> {
    return this.stale() ?? this.vfs.doWriteAt(this.path, Buffer.alloc(length), this.size);
  }

  sync(): Promise<void> {
    return this.stale() ?? this.vfs.doSync(this.path);
  }

  truncate(size: number): Promise<void> {
    const stale = this.stale();
    if (stale) return stale;
    const f = this.vfs.file(this.path);
    f.data = Buffer.from(f.data.subarray(0, size));
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** firstDifference returns the first offset where `a` differs from `b` (or where the shorter one ends). */
function firstDifference(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/**
 * keepPages copies into `out` (a copy of f's synced bytes) each `pageBytes` page of f's unsynced
 * writes over synced bytes, from offset `from` on, with probability 1/2: an out-of-order loss.
 */
function keepPages(out: Buffer, f: MemFile, from: number, random: () => number, pageBytes: number): void {
  const end = Math.min(f.data.length, f.synced.length);
  for (let page = from - (from % pageBytes); page < end; page += pageBytes)
    if (random() < 0.5)
      f.data.copy(out, Math.max(page, from), Math.max(page, from), Math.min(page + pageBytes, end));
}

/** FaultyVfs is an in-memory Vfs with injectable faults. */
export class FaultyVfs implements Vfs {
  private readonly files = new Map<string, MemFile>();
  /** dirs maps each directory to its identity (a new one each time it is made: dirIdentity). */
  private readonly dirs = new Map<string, number>();
  private nextDirId = 1;
  private syncFailures = 0;
  private failedSyncTurns = 0;
  private unlinkFailures = 0;
  private openFailures = 0;
  private openFailure = 'EMFILE';
  private capacity = Infinity;
  /** openReads counts read handles opened and not yet closed (tests check nothing leaks). */
  openReads = 0;
  /** syncCount counts successful syncs (tests assert group commit with it). */
  syncCount = 0;
  /** dead is set by crash(): this instance is the disk as the crashed process saw it; all calls fail. */
  dead = false;
  /**
   * syncTurns is how many event-loop turns a sync takes (0: it completes at once). A slow sync
   * makes what it covers (the bytes written when it was called) durable only when it completes, so
   * a crash meanwhile finds batches written and not yet synced, as a real fdatasync in flight
   * leaves them. Kept by crash().
   */
  syncTurns = 0;

  /**
   * failSyncs makes the next `n` syncs fail with EIO, each reporting it `turns` event-loop turns
   * after it was called (the unsynced bytes are dropped at once: a sync running beside it and
   * completing first covers them no more, as a real writeback error taken by another fdatasync).
   */
  failSyncs(n: number, turns = 0): void {
    this.syncFailures = n;
    this.failedSyncTurns = turns;
  }

  /** failOpens makes the next `n` opens for writing fail with `code` (EMFILE: the process is out of file descriptors). */
  failOpens(n: number, code = 'EMFILE'): void {
    this.openFailures = n;
    this.openFailure = code;
  }

  /** failUnlinks makes the next `n` unlinks fail with EIO (the file stays). */
  failUnlinks(n: number): void {
    this.unlinkFailures = n;
  }

  /** setCapacity limits the total bytes of all files; appends beyond it fail with ENOSPC. */
  setCapacity(bytes: number): void {
    this.capacity = bytes;
  }

  /** usedBytes is the total size of all files. */
  usedBytes(): number {
    let n = 0;
    for (const f of this.files.values()) n += f.data.length;
    return n;
  }

  /**
   * crash models power loss and returns the disk as it is after reboot: each file reverts to its
   * last synced bytes; with `tear`, a file whose current bytes differ from its synced ones from
   * offset d on keeps a random-length prefix of the current bytes from d (appended, or written over
   * synced bytes: past the prefix the synced bytes come back); with `'pages'`, a file written over
   * its synced bytes keeps each page (`pageBytes`) of those writes at random (keepPages), and
   * appended bytes past its synced size are lost. This instance is dead afterwards:
   * whatever the crashed store still tries to do fails with EIO and cannot touch the rebooted disk.
   */
  crash(tear: Tear = false, random: () => number = Math.random, pageBytes = PAGE_BYTES): FaultyVfs {
    const next = new FaultyVfs();
    next.syncTurns = this.syncTurns;
    for (const [d, id] of this.dirs) next.dirs.set(d, id);
    next.nextDirId = this.nextDirId;
    for (const [path, f] of this.files) {
      let data = Buffer.from(f.synced);
      const d = firstDifference(f.data, f.synced);
      if (tear === 'pages' && d < Math.min(f.data.length, f.synced.length)) {
        keepPages(data, f, d, random, pageBytes);
      } else if (tear !== false && d < f.data.length) {
        const kept = d + Math.floor(random() * (f.data.length - d));
        data = Buffer.alloc(Math.max(f.synced.length, kept));
        f.synced.copy(data);
        f.data.copy(data, d, d, kept);
      }
      next.files.set(path, { data, synced: Buffer.from(data) });
    }
    this.dead = true;
    return next;
  }

  private check(): void {
    if (this.dead) throw errno('EIO', 'the disk crashed');
  }

  /** corrupt flips one byte of a file (current and synced bytes) at `offset`. */
  corrupt(path: string, offset: number): void {
    const f = this.file(path);
    f.data[offset]! ^= 0xff;
    if (offset < f.synced.length) f.synced[offset]! ^= 0xff;
  }

  /** file returns a file's record (throws ENOENT). */
  file(path: string): MemFile {
    const f = this.files.get(path);
    if (f === undefined) throw errno('ENOENT', path);
    return f;
  }

  /** doWriteAt writes `data` at `position` of a file; what would grow the files beyond the capacity fails with ENOSPC after writing what fits. */
  doWriteAt(path: string, data: Uint8Array, position: number): Promise<void> {
    if (this.dead) return Promise.reject(errno('EIO', 'the disk crashed'));
    const f = this.file(path);
    const growth = Math.max(0, position + data.length - f.data.length);
    const room = Math.max(0, this.capacity - this.usedBytes());
    const fits = growth > room ? data.length - (growth - room) : data.length;
    // A new buffer each time: `synced` (or a test) may share the old one.
    const next = Buffer.alloc(Math.max(f.data.length, position + Math.max(0, fits)));
    f.data.copy(next);
    next.set(data.subarray(0, Math.max(0, fits)), position);
    f.data = next;
    if (fits < data.length) return Promise.reject(errno('ENOSPC', `no space left on device writing ${path}`));
    return Promise.resolve();
  }

  async doSync(path: string): Promise<void> {
    if (this.dead) throw errno('EIO', 'the disk crashed');
    const f = this.file(path);
    if (this.syncFailures > 0) {
      this.syncFailures--;
      f.data = Buffer.from(f.synced); // Linux drops the dirty pages of a failed fsync
      for (let turn = 0; turn < this.failedSyncTurns; turn++) await new Promise((r) => setImmediate(r));
      throw errno('EIO', `fsync failed on ${path}`);
    }
    const covered = Buffer.from(f.data);
    for (let turn = 0; turn < this.syncTurns; turn++) await new Promise((r) => setImmediate(r));
    this.check(); // a crash while it ran: it never completed
    f.synced = covered;
    this.syncCount++;
  }

  mkdirp(dir: string): void {
    this.check();
    for (let d = dir; d !== dirname(d); d = dirname(d))
      if (!this.dirs.has(d)) this.dirs.set(d, this.nextDirId++);
  }

  list(dir: string): string[] {
    this.check();
    const prefix = dir.endsWith('/') ? dir : `${dir}/`;
    return [...this.files.keys()]
      .filter((p) => p.startsWith(prefix) && !p.slice(prefix.length).includes('/'))
      .map((p) => p.slice(prefix.length));
  }

  listDirs(dir: string): string[] {
    this.check();
    const prefix = dir.endsWith('/') ? dir : `${dir}/`;
    return [...this.dirs.keys()]
      .filter((d) => d.startsWith(prefix) && !d.slice(prefix.length).includes('/'))
      .map((d) => d.slice(prefix.length));
  }

  exists(path: string): boolean {
    return this.files.has(path) || this.dirs.has(path);
  }

  readFile(path: string): Buffer {
    this.check();
    return Buffer.from(this.file(path).data);
  }

  openRead(path: string): ReadableFile {
    this.check();
    const data = this.file(path).data;
    this.openReads++;
    let open = true;
    return {
      path,
      size: data.length,
      readAt: (position, length) => {
        this.check();
        return Buffer.from(data.subarray(position, position + length));
      },
      close: () => {
        if (open) this.openReads--;
        open = false;
      },
    };
  }

  openAppend(path: string, truncate: boolean): Promise<WritableFile> {
    if (this.dead) return Promise.reject(errno('EIO', 'the disk crashed'));
    if (!this.dirs.has(dirname(path))) return Promise.reject(errno('ENOENT', dirname(path)));
    if (this.openFailures > 0) {
      this.openFailures--;
      return Promise.reject(
        errno(
          this.openFailure,
          `${this.openFailure === 'EMFILE' ? 'too many open files' : 'open failed'}, open '${path}'`,
        ),
      );
    }
    const existing = this.files.get(path);
    if (existing === undefined || truncate)
      this.files.set(path, { data: Buffer.alloc(0), synced: Buffer.alloc(0) });
    return Promise.resolve(new FaultyWritableFile(this, path));
  }

  async writeFile(path: string, data: Uint8Array): Promise<void> {
    const f = await this.openAppend(path, true);
    await f.append(data);
    await f.sync();
  }

  rename(from: string, to: string): void {
    this.check();
    this.files.set(to, this.file(from));
    this.files.delete(from);
  }

  unlink(path: string): void {
    this.check();
    this.file(path);
    if (this.unlinkFailures > 0) {
      this.unlinkFailures--;
      throw errno('EIO', `unlink failed on ${path}`);
    }
    this.files.delete(path);
  }

  removeDir(dir: string): void {
    this.check();
    this.dirs.delete(dir);
  }

  dirIdentity(dir: string): string | undefined {
    this.check();
    const id = this.dirs.get(dir);
    return id === undefined ? undefined : String(id);
  }

  /** removeTree removes `dir` with every file and directory under it, as `rm -rf` does (tests). */
  removeTree(dir: string): void {
    this.check();
    const prefix = `${dir}/`;
    for (const p of [...this.files.keys()]) if (p.startsWith(prefix)) this.files.delete(p);
    for (const d of [...this.dirs.keys()]) if (d === dir || d.startsWith(prefix)) this.dirs.delete(d);
  }

  /** freeBytes is what the capacity leaves (Infinity without one). */
  freeBytes(): number {
    this.check();
    return Math.max(0, this.capacity - this.usedBytes());
  }

  /** syncDir is a no-op: directory operations are durable at once in this model. */
  syncDir(): void {
    this.check();
  }
}
