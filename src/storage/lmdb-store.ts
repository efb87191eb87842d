/**
 * LmdbStore: a Store kept entirely in LMDB (lmdb-js), one environment per store directory.
 *
 * On disk: `<dir>/data.mdb` + `<dir>/data.mdb-lock` holding two named databases, `data` (the keys,
 * binary keys and values) and `meta` (`last_seq`). Group commit comes from lmdb-js itself: every
 * put issued in one event-loop turn goes into one write transaction, committed off-thread. With
 * `durability = "fsync"` the environment syncs inside each commit (overlappingSync off), so a
 * write's commit promise resolves only once it is on disk. `"interval"` and `"none"` open it with
 * noSync and acknowledge at commit; `"interval"` also syncs every `fsyncIntervalMs`.
 */
import type { Database, RootDatabase } from 'lmdb';
import { dbStats, openKvEnv } from './lmdb-env.js';
import { DistkvError, toDistkvError } from '../errors.js';
import { prefixEnd } from '../util/bytes.js';
import type { Store, StoreEntry, StoreOptions, StoreStats, WriteResult } from './store.js';

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

/** LmdbStore is a Store over one LMDB environment. */
export class LmdbStore implements Store {
  readonly engine = 'lmdb';
  private readonly root: RootDatabase;
  private readonly data: Database<Buffer, Uint8Array>;
  private readonly meta: Database<number, string>;
  private readonly syncTimer: NodeJS.Timeout | undefined;
  private seq: number;
  private closed = false;

  constructor(options: StoreOptions) {
    ({
      root: this.root,
      data: this.data,
      meta: this.meta,
    } = openKvEnv(options.dir, { noSync: options.durability !== 'fsync', overlappingSync: false }));
    if (options.durability === 'interval') {
      this.syncTimer = setInterval(() => {
        syncEnv(this.root).catch(() => undefined);
      }, options.fsyncIntervalMs);
      this.syncTimer.unref();
    }
    this.seq = this.meta.get(META_LAST_SEQ) ?? 0;
  }

  get(key: Uint8Array): Uint8Array | undefined {
    // getBinaryFast returns lmdb-js's shared read buffer with an overridden `length`; a subarray gives
    // an honest view of just the value (valid until the next read, as the Store contract says).
    const v = this.data.getBinaryFast(key);
    return v === undefined ? undefined : v.subarray(0, v.length);
  }

  put(key: Uint8Array, value: Uint8Array): Promise<WriteResult> {
    this.checkOpen();
    return this.commit(this.data.put(key, Buffer.from(value.buffer, value.byteOffset, value.byteLength)));
  }

  delete(key: Uint8Array): Promise<WriteResult> {
    this.checkOpen();
    return this.commit(this.data.remove(key));
  }

  scan(prefix: Uint8Array, after: Uint8Array | undefined, limit: number): StoreEntry[] {
    const end = prefixEnd(prefix);
    const startAfter = after !== undefined && Buffer.compare(after, prefix) >= 0;
    const range = this.data.getRange({
      start: startAfter ? after : prefix,
      ...(end === undefined ? {} : { end }),
      exclusiveStart: startAfter,
      limit,
    });
    const out: StoreEntry[] = [];
    for (const { key, value } of range) out.push({ key, value });
    return out;
  }

  lastSeq(): number {
    return this.seq;
  }

  stats(): StoreStats {
    return { engine: this.engine, ...dbStats(this.data), lastSeq: this.seq };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.syncTimer);
    await this.root.flushed;
    await syncEnv(this.root);
    await this.root.close();
  }

  private async commit(write: Promise<boolean>): Promise<WriteResult> {
    const seq = ++this.seq;
    void this.meta.put(META_LAST_SEQ, seq);
    try {
      await write;
    } catch (err) {
      throw toDistkvError(err);
    }
    return { seq };
  }

  private checkOpen(): void {
    if (this.closed) throw new DistkvError('UNAVAILABLE', 'store is closed');
  }
}
