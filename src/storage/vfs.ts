/**
 * The file seam of the LSM store: every file the WAL and the SSTable runs touch goes through a
 * `Vfs`. `RealVfs` (real-vfs.ts) is node:fs; `FaultyVfs` (faulty-vfs.ts) is the in-memory twin
 * that models power loss (everything after the last successful sync is dropped or torn) and fails
 * syncs or runs out of space on demand. LMDB, the bottom level, does its own I/O.
 *
 * Durability contract: bytes appended to (or written over) a WritableFile are durable once a later
 * `sync()` resolves; until then a power cut may keep the old bytes, or a prefix of the new ones. A
 * created, renamed or removed file is durable once `syncDir()` of its directory returns.
 */

/** WritableFile is a file opened for appending and positional writes. */
export interface WritableFile {
  readonly path: string;
  /** size is the file's length including bytes not yet synced. */
  readonly size: number;
  /** append writes `data` at the end of the file. */
  append(data: Uint8Array): Promise<void>;
  /** writeAt writes `data` at `position` (over existing bytes, or extending the file; a synchronous pwrite in RealVfs). */
  writeAt(data: Uint8Array, position: number): Promise<void>;
  /** appendZeros extends the file by `length` zero bytes through an asynchronous write (the thread pool in RealVfs): it never holds the thread for the write. */
  appendZeros(length: number): Promise<void>;
  /** sync makes every appended byte durable (fdatasync). */
  sync(): Promise<void>;
  /** truncate cuts the file to `size` bytes (used to drop a failed append). */
  truncate(size: number): Promise<void>;
  close(): Promise<void>;
}

/** ReadableFile is a file opened for positional reads. */
export interface ReadableFile {
  readonly path: string;
  readonly size: number;
  /** readAt reads `length` bytes at `position` (fewer at end of file); synchronous: files are read from the page cache. */
  readAt(position: number, length: number): Buffer;
  close(): void;
}

/** Vfs is the set of file operations the LSM store uses. */
export interface Vfs {
  mkdirp(dir: string): void;
  /** list returns the names (not paths) of the entries of `dir`, or [] when it does not exist. */
  list(dir: string): string[];
  /** listDirs returns the names of the directories in `dir`, or [] when it does not exist. */
  listDirs(dir: string): string[];
  exists(path: string): boolean;
  readFile(path: string): Buffer;
  openRead(path: string): ReadableFile;
  /** openAppend opens (creating, or truncating when `truncate`) a file for appending and positional writes. */
  openAppend(path: string, truncate: boolean): Promise<WritableFile>;
  /** writeFile writes a whole file and syncs it. */
  writeFile(path: string, data: Uint8Array): Promise<void>;
  rename(from: string, to: string): void;
  unlink(path: string): void;
  /** removeDir removes an empty directory (nothing when it does not exist). */
  removeDir(dir: string): void;
  syncDir(dir: string): void;
  /**
   * dirIdentity names the directory `dir` is now (device and inode in RealVfs), or undefined when
   * nothing is there: a directory removed and made again, or replaced, has another identity.
   */
  dirIdentity(dir: string): string | undefined;
  /** freeBytes is how many bytes the file system holding `dir` can still take (what an unprivileged writer may use). */
  freeBytes(dir: string): number;
}
