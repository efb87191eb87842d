/**
 * LmdbStore: a Store kept entirely in LMDB (lmdb-js), one environment per store directory.
 *
 * On disk: `<dir>/data.mdb` + `<dir>/data.mdb-lock` holding two named databases, `data` (binary
 * keys; values with their seq and expiry, lmdb-value-format.ts) and `meta` (`last_seq`). Group commit comes from lmdb-js itself: every
 * put issued in one event-loop turn goes into one write transaction, committed off-thread. With
 * `durability = "fsync"` the environment syncs inside each commit (overlappingSync off), so a
 * write's commit promise resolves only once it is on disk. `"interval"` and `"none"` open it with
 * noSync and acknowledge at commit; `"interval"` also syncs every `fsyncIntervalMs`.
 *
 * Its directory is watched as an LSM store's is (store-dir-watch.ts): LMDB writes into the file it
 * holds open, so a directory removed (or replaced) while the store runs went unnoticed, every write
 * acknowledged into a file no path reaches any more and gone at the next start. Once the check
 * (every second, on a timer) finds it gone, writes are refused with STORE_DIR_LOST; reads go on.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Database, RootDatabase } from 'lmdb';
import { bufferView, dbStats, openKvEnv, quietCommitFailure } from './lmdb-env.js';
import { CorruptionError, DistkvError, toDistkvError } from '../errors.js';
import { prefixEnd } from '../util/bytes.js';
import { decodeStoredValue, encodeStoredValue, upgradeValueLayout } from './lmdb-value-format.js';
import { RealVfs } from './real-vfs.js';
import { StoreDirWatch } from './store-dir-watch.js';
import {
  EXPIRING_PAGE_BYTES,
  entryBytes,
  type ExpiringPage,
  type Store,
  type StoreEntry,
  type StoreOptions,
  type StoreStats,
  type StoreValue,
  type WriteResult,
} from './store.js';
import type { Vfs } from './vfs.js';

const META_LAST_SEQ = 'last_seq';

/** Syncable is lmdb-js's root database with its (untyped) `sync(callback)`, which calls mdb_env_sync. */
type Syncable = RootDatabase & { sync(callback: (error?: Error) => void): void };

function syncEnv(root: RootDatabase): Promise<void> {
  return new Promise((resolve, reject) => {
    (root as Syncable).sync((error) => {
      if (error) reject(error);
      else resolve();
    });
  });
}

/** LmdbStoreOptions are StoreOptions plus what the directory check uses (store-dir-watch.ts). */
export interface LmdbStoreOptions extends StoreOptions {
  /** vfs reads the directory's identity (default: the real file system). */
  vfs?: Vfs | undefined;
  /** dirCheckMs overrides DIR_CHECK_MS, how often the directory is checked (0: never; tests). */
  dirCheckMs?: number | undefined;
  log?: Logger | undefined;
}

/** LmdbStore is a Store over one LMDB environment. */
export class LmdbStore implements Store {
  readonly engine = 'lmdb';
  private readonly root: RootDatabase;
  private readonly data: Database<Buffer, Uint8Array>;
  private readonly meta: Database<number, string>;
  private readonly syncTimer: NodeJS.Timeout | undefined;
  /**
   * intervalSync is the timer's sync in flight. lmdb-js runs it on a libuv thread against the
   * environment without holding it open, so close waits for it: an environment closed under a
   * running mdb_env_sync is freed memory in use. A tick while one runs starts no second one.
   */
  private intervalSync: Promise<void> | undefined;
  private readonly clock: () => number;
  /** path is the data file, named by corruption errors. */
  private readonly path: string;
  private seq: number;
  private closed = false;
  /** dirWatch notices the store's directory removed or replaced; writes are refused from then on. */
  private readonly dirWatch: StoreDirWatch;

  constructor(options: LmdbStoreOptions) {
    this.path = join(options.dir, 'data.mdb');
    ({
      root: this.root,
      data: this.data,
      meta: this.meta,
    } = openKvEnv(options.dir, { noSync: options.durability !== 'fsync', overlappingSync: false }));
    if (options.durability === 'interval') {
      this.syncTimer = setInterval(() => {
        if (this.intervalSync !== undefined) return;
        this.intervalSync = syncEnv(this.root)
          .catch(() => undefined)
          .finally(() => {
            this.intervalSync = undefined;
          });
      }, options.fsyncIntervalMs);
      this.syncTimer.unref();
    }
    upgradeValueLayout(this.root, this.data, this.meta);
    this.seq = this.meta.get(META_LAST_SEQ) ?? 0;
    this.clock = options.clock ?? Date.now;
    // Last: nothing after it may throw and leave its timer running.
    this.dirWatch = new StoreDirWatch({
      vfs: options.vfs ?? new RealVfs(),
      dir: options.dir,
      log: options.log,
      checkMs: options.dirCheckMs,
      onLost: options.onDirLost,
    });
  }

  get(key: Uint8Array): Uint8Array | undefined {
    return this.read(key)?.value;
  }

  read(key: Uint8Array, nowMs = this.clock()): StoreValue | undefined {
    // A view of lmdb-js's read buffer (lmdb-env.ts bufferView): valid until the next LMDB read of
    // any store on this thread, as the Store contract says.
    const raw = this.data.getBinaryFast(key);
    const v = raw === undefined ? undefined : this.decode(key, bufferView(raw));
    return v !== undefined && (v.expiresAtMs === 0 || v.expiresAtMs > nowMs) ? v : undefined;
  }

  put(key: Uint8Array, value: Uint8Array, expiresAtMs = 0): Promise<WriteResult> {
    this.checkOpen();
    const seq = this.seq + 1;
    return this.commit(this.data.put(key, encodeStoredValue(key, seq, expiresAtMs, value)));
  }

  delete(key: Uint8Array): Promise<WriteResult> {
    this.checkOpen();
    return this.commit(this.data.remove(key));
  }

  expire(key: Uint8Array): Promise<WriteResult> {
    return this.delete(key);
  }

  scan(prefix: Uint8Array, after: Uint8Array | undefined, limit: number, maxBytes = Infinity): StoreEntry[] {
    const end = prefixEnd(prefix);
    const startAfter = after !== undefined && Buffer.compare(after, prefix) >= 0;
    const range = this.data.getRange({
      start: startAfter ? after : prefix,
      ...(end === undefined ? {} : { end }),
      exclusiveStart: startAfter,
    });
    const out: StoreEntry[] = [];
    const now = this.clock();
    let bytes = 0;
    for (const { key, value } of range) {
      const v = this.decode(key, bufferView(value));
      if (v.expiresAtMs !== 0 && v.expiresAtMs <= now) continue;
      const e = { key, ...v };
      out.push(e);
      bytes += entryBytes(e);
      if (out.length >= limit || bytes >= maxBytes) break;
    }
    return out;
  }

  expiring(after: Uint8Array | undefined, limit: number): ExpiringPage {
    // Every value is read to learn its expiry (it is in the value's header, checked by its crc).
    const range = this.data.getRange(after === undefined ? {} : { start: after, exclusiveStart: true });
    const entries: ExpiringPage['entries'] = [];
    let visited = 0;
    let bytes = 0;
    for (const { key, value } of range) {
      const v = this.decode(key, bufferView(value));
      if (v.expiresAtMs > 0) entries.push({ key: Buffer.from(key), seq: v.seq, expiresAtMs: v.expiresAtMs });
      bytes += key.length + value.length;
      if (++visited >= limit || bytes >= EXPIRING_PAGE_BYTES) return { entries, next: Buffer.from(key) };
    }
    return { entries, next: undefined };
  }

  lastSeq(): number {
    return this.seq;
  }

  /** decode splits `key`'s stored value, reporting a damaged one (short, or its crc wrong) as corruption. */
  private decode(key: Uint8Array, b: Buffer): StoreValue {
    const v = decodeStoredValue(key, b);
    if (v === undefined)
      throw new CorruptionError(this.path, 0, 'an LMDB value is damaged (short or checksum mismatch)');
    return v;
  }

  stats(): StoreStats {
    return {
      engine: this.engine,
      ...dbStats(this.data, this.path),
      lastSeq: this.seq,
      dirLost: this.dirWatch.lost === undefined ? 0 : 1,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.dirWatch.stop();
    clearInterval(this.syncTimer);
    await this.intervalSync;
    await this.root.flushed;
    await syncEnv(this.root);
    await this.root.close();
  }

  private async commit(write: Promise<boolean>): Promise<WriteResult> {
    const seq = ++this.seq;
    // Same commit as `write`, whose promise reports a failure; this one must not go unhandled.
    this.meta.put(META_LAST_SEQ, seq).catch(() => undefined);
    try {
      await write;
    } catch (err) {
      quietCommitFailure(err);
      throw toDistkvError(err);
    }
    return { seq };
  }

  /** checkOpen refuses a write to a closed store, or to one whose directory is gone (STORE_DIR_LOST). */
  private checkOpen(): void {
    if (this.closed) throw new DistkvError('UNAVAILABLE', 'store is closed');
    const lost = this.dirWatch.lost;
    if (lost !== undefined) throw lost;
  }
}
