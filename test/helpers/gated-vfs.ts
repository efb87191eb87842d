/**
 * GatedVfs: a FaultyVfs whose fdatasyncs a test can hold, so that several commit-log batches are
 * appended and in flight at once (the log pipelines up to MAX_IN_FLIGHT of them), and the power can
 * be cut at a chosen point of a batch: after its append and before its sync (`hold()`, then
 * `crash`), or after its sync and before it settles (`afterSync`), or as a segment is started
 * (`onCreate`, `onRename`). Everything else is the
 * FaultyVfs's, whose `crash` it forwards.
 */
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import type { ReadableFile, Vfs, WritableFile } from '../../src/storage/vfs.js';

/** GatedVfs is a FaultyVfs with holdable syncs. */
export class GatedVfs implements Vfs {
  readonly disk: FaultyVfs;
  /** afterSync, when set, runs once a sync has reached the disk and before its caller hears of it. */
  afterSync: ((path: string) => void) | undefined;
  /** onCreate, when set, runs when a file is created (opened with truncate), before it is written. */
  onCreate: ((path: string) => void) | undefined;
  /** onRename, when set, runs before a file is renamed (a spare commit log segment becoming the next segment). */
  onRename: ((from: string, to: string) => void) | undefined;
  private held = false;
  private waiting: (() => void)[] = [];

  constructor(disk = new FaultyVfs()) {
    this.disk = disk;
  }

  /** hold makes every sync from now on wait until `release`. */
  hold(): void {
    this.held = true;
  }

  /** heldSyncs is how many syncs wait. */
  get heldSyncs(): number {
    return this.waiting.length;
  }

  /** release lets the waiting syncs (and every later one) go on. */
  release(): void {
    this.held = false;
    const w = this.waiting;
    this.waiting = [];
    for (const go of w) go();
  }

  /** untilHeld waits (bounded) until `n` syncs wait. */
  async untilHeld(n: number, ms = 10000): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.waiting.length < n) {
      if (Date.now() > deadline) throw new Error(`${this.waiting.length} syncs held, expected ${n}`);
      await new Promise((r) => setImmediate(r));
    }
  }

  mkdirp(dir: string): void {
    this.disk.mkdirp(dir);
  }

  list(dir: string): string[] {
    return this.disk.list(dir);
  }

  listDirs(dir: string): string[] {
    return this.disk.listDirs(dir);
  }

  exists(path: string): boolean {
    return this.disk.exists(path);
  }

  readFile(path: string): Buffer {
    return this.disk.readFile(path);
  }

  openRead(path: string): ReadableFile {
    return this.disk.openRead(path);
  }

  async openAppend(path: string, truncate: boolean): Promise<WritableFile> {
    if (truncate) this.onCreate?.(path);
    const f = await this.disk.openAppend(path, truncate);
    return {
      path: f.path,
      get size() {
        return f.size;
      },
      append: (data) => f.append(data),
      writeAt: (data, position) => f.writeAt(data, position),
      appendZeros: (length) => f.appendZeros(length),
      sync: async () => {
        if (this.held) await new Promise<void>((r) => this.waiting.push(r));
        await f.sync();
        this.afterSync?.(path);
      },
      truncate: (size) => f.truncate(size),
      close: () => f.close(),
    };
  }

  writeFile(path: string, data: Uint8Array): Promise<void> {
    return this.disk.writeFile(path, data);
  }

  rename(from: string, to: string): void {
    this.onRename?.(from, to);
    this.disk.rename(from, to);
  }

  unlink(path: string): void {
    this.disk.unlink(path);
  }

  dirIdentity(dir: string): string | undefined {
    return this.disk.dirIdentity(dir);
  }

  removeDir(dir: string): void {
    this.disk.removeDir(dir);
  }

  syncDir(): void {
    this.disk.syncDir();
  }

  freeBytes(): number {
    return this.disk.freeBytes();
  }
}
