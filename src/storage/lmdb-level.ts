/**
 * LmdbLevel: the bottom level of the LSM store, one LMDB environment at `<store>/lmdb/data.mdb`.
 *
 * It holds every key compacted out of SSTable runs (tombstones and expired values already applied,
 * each value stored with its seq and expiry as lmdb-value-format.ts lays out) and, in its `meta`
 * database, `applied_seq`: every write with seq ≤ applied_seq is in LMDB, and `flushed_seq`: the
 * newest seq a synced run was flushed through (a check against runs lost from under the store).
 * Compaction writes data and the new applied_seq in the same write transaction, and waits for that
 * transaction to be synced whatever the store's durability mode, because WAL segments and runs are
 * deleted once LMDB holds their data.
 */
import { join } from 'node:path';
import { type Database, type RootDatabase, TransactionFlags } from 'lmdb';
import { bufferView, dbStats, openKvEnv, quietCommitFailure } from './lmdb-env.js';
import { decodeStoredValue, encodeStoredValue, upgradeValueLayout } from './lmdb-value-format.js';
import type { Versioned } from './merge-iterator.js';
import { CorruptionError, DistkvError } from '../errors.js';
import { prefixEnd } from '../util/bytes.js';
import { settledWithin } from '../util/within.js';

const APPLIED_SEQ = 'applied_seq';
/**
 * FLUSHED_SEQ is the newest seq a run of the store was flushed through, noted once the run is
 * synced: at open, runs and LMDB that hold less (and a log that does not fill the rest) are a
 * run lost from under the store (lsm-recovery.ts), as LevelDB's MANIFEST tells a missing table.
 */
const FLUSHED_SEQ = 'flushed_seq';
/** COMMIT_WITHOUT_FLUSH: commit before returning, but do not wait for the commit's fsync. */
const COMMIT_WITHOUT_FLUSH = TransactionFlags.SYNCHRONOUS_COMMIT | TransactionFlags.NO_SYNC_FLUSH;

/** LevelWrite is one change compaction applies: a value with its seq and expiry (0 or absent = none), or null to delete. */
export interface LevelWrite {
  key: Uint8Array;
  value: Uint8Array | null;
  seq: number;
  expiresAtMs?: number;
}

/** LevelEntry is a live entry of the level: its key and version (copies). */
export interface LevelEntry {
  key: Buffer;
  version: Versioned & { value: Buffer; expiresAtMs: number };
}

/**
 * CONFIRM_WAIT_MS bounds how long a compaction waits for LMDB to confirm its last chunk durable: a
 * healthy disk does it in well under a second, a busy one in seconds; past this the commit's sync
 * is taken as failed.
 */
export const CONFIRM_WAIT_MS = 60_000;

/** LmdbLevel wraps the bottom level's environment. */
export class LmdbLevel {
  private readonly root: RootDatabase;
  private readonly data: Database<Buffer, Uint8Array>;
  private readonly meta: Database<number, string>;
  private readonly path: string;
  /** confirmWaitMs bounds apply's wait for LMDB to confirm a commit durable (CONFIRM_WAIT_MS; tests shorten it). */
  confirmWaitMs = CONFIRM_WAIT_MS;
  /** flushed caches FLUSHED_SEQ (read once, then kept as it is written). */
  private flushed: number | undefined;

  constructor(storeDir: string) {
    this.path = join(storeDir, 'lmdb', 'data.mdb');
    ({
      root: this.root,
      data: this.data,
      meta: this.meta,
    } = openKvEnv(join(storeDir, 'lmdb'), {
      // overlappingSync (lmdb-js's default on Linux): commits do not wait for their fsync, and
      // `flushed` resolves once they are durable; after a power loss LMDB restarts at the last
      // flushed commit, intact. Compaction waits for `flushed` only after its last chunk.
      overlappingSync: true,
      noSync: false,
    }));
    upgradeValueLayout(this.root, this.data, this.meta);
  }

  /** appliedSeq is the seq through which every write is in LMDB. */
  appliedSeq(): number {
    return this.meta.get(APPLIED_SEQ) ?? 0;
  }

  /** flushedSeq is the newest seq a run was flushed through (FLUSHED_SEQ), 0 if none was noted. */
  flushedSeq(): number {
    this.flushed ??= this.meta.get(FLUSHED_SEQ) ?? 0;
    return this.flushed;
  }

  /**
   * noteFlushed records that a synced run holds the store's writes through `seq` (it keeps the
   * highest seq noted, unless `exact`: a repair that opened without a lost run lowers it). It
   * resolves once committed, not synced: after a power cut the note can only be older, never name
   * a run that is not on disk.
   */
  async noteFlushed(seq: number, exact = false): Promise<void> {
    if (!exact && seq <= this.flushedSeq()) return;
    this.flushed = seq;
    await this.meta.put(FLUSHED_SEQ, seq).catch((err: unknown) => {
      quietCommitFailure(err);
      throw err;
    });
  }

  /**
   * get returns the key's version, or undefined. Its value is a view of lmdb-js's read buffer,
   * shared by every LMDB environment of the thread: valid until the next LMDB read on this thread,
   * of this store or any other (Store.get).
   */
  get(key: Uint8Array): Versioned | undefined {
    const v = this.data.getBinaryFast(key);
    return v === undefined ? undefined : this.decode(key, bufferView(v));
  }

  /**
   * apply writes `writes` in one transaction and resolves once it is committed. With `appliedSeq`
   * it also records applied_seq in that transaction and resolves only once the transaction (and so
   * every earlier one) is durable.
   */
  async apply(writes: readonly LevelWrite[], appliedSeq?: number): Promise<void> {
    // A failed commit (a full disk) rejects the promise of every write in it: all are awaited, so
    // none is left unhandled (an unhandled rejection ends the worker thread).
    const done: Promise<boolean>[] = [];
    for (const w of writes)
      done.push(
        w.value === null
          ? this.data.remove(w.key)
          : this.data.put(w.key, encodeStoredValue(w.key, w.seq, w.expiresAtMs ?? 0, w.value)),
      );
    if (appliedSeq !== undefined) done.push(this.meta.put(APPLIED_SEQ, appliedSeq));
    await Promise.all(done).catch((err: unknown) => {
      quietCommitFailure(err);
      throw err;
    });
    if (appliedSeq !== undefined && !(await settledWithin(this.root.flushed, this.confirmWaitMs)))
      // lmdb-js never settles the flush of a commit whose sync failed: without a bound a compaction
      // waited for ever, holding the thread's compaction gate (every store of the worker stopped
      // compacting) and its store's close (the node never stopped). Failed, it keeps its runs and
      // is retried with backoff.
      throw new DistkvError(
        'DISK_IO_ERROR',
        `LMDB (${this.path}) did not confirm its commit durable within ${this.confirmWaitMs} ms (is the device failing?); the runs are kept until a compaction is confirmed`,
      );
  }

  /**
   * applyNow writes `writes` in one synchronous write transaction on this thread (blocking it
   * while it commits; for bulk loads, where nothing else runs). The commit does not wait for its
   * fsync: it is durable once `flushed` resolves (apply with an appliedSeq waits for it).
   */
  applyNow(writes: readonly LevelWrite[]): void {
    const write = (): void => {
      for (const w of writes)
        if (w.value === null) this.data.removeSync(w.key);
        else this.data.putSync(w.key, encodeStoredValue(w.key, w.seq, w.expiresAtMs ?? 0, w.value));
    };
    // lmdb-js types the flags as one enum member although they are bits to combine.
    // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment
    this.root.transactionSync(write, COMMIT_WITHOUT_FLUSH);
  }

  /** entries iterates keys ≥ `from` with `prefix`, in byte order, expired or not (copies). */
  *entries(
    prefix: Uint8Array,
    from: Uint8Array | undefined,
    exclusive: boolean,
  ): IterableIterator<LevelEntry> {
    const end = prefixEnd(prefix);
    const start = from !== undefined && Buffer.compare(from, prefix) > 0 ? from : prefix;
    const range = this.data.getRange({
      start,
      ...(end === undefined ? {} : { end }),
      exclusiveStart: exclusive && start === from,
    });
    for (const { key, value } of range)
      yield {
        key: key as Buffer,
        version: this.decode(key, bufferView(value)),
      };
  }

  /** decode splits `key`'s stored value, reporting a damaged one (short, or its crc wrong) as corruption. */
  private decode(key: Uint8Array, b: Buffer): Versioned & { value: Buffer; expiresAtMs: number } {
    const v = decodeStoredValue(key, b);
    if (v === undefined)
      throw new CorruptionError(
        this.path,
        0,
        `the LMDB value of key ${Buffer.from(key).toString('latin1')} (${b.length} bytes) is damaged (short or checksum mismatch)`,
      );
    return v;
  }

  /** stats returns the level's entry count and size on disk. */
  stats(): { keys: number; bytes: number } {
    return dbStats(this.data, this.path);
  }

  /**
   * close waits for LMDB's last commits to be durable, then closes the environment. With `boundMs`
   * it waits at most that long, then resolves with why it stopped waiting: lmdb-js never settles
   * the flush of a commit that failed (a full disk, an I/O error: its write.js drops that commit's
   * flush resolvers) and its close waits for that flush, so a store on a full disk never closed and
   * its node never stopped. Nothing is lost by not waiting: compaction deletes runs and log
   * segments only once LMDB confirmed their data durable (`apply` waits for `flushed`), so what
   * LMDB did not confirm is still in the runs and the log. The environment stays open until the
   * process ends. Without `boundMs` (bulk loads, whose data is nowhere else) it waits.
   */
  async close(boundMs?: number): Promise<string | undefined> {
    const closing = (async () => {
      await this.root.flushed;
      await this.root.close();
    })();
    if (boundMs === undefined) {
      await closing;
      return undefined;
    }
    if (await settledWithin(closing, boundMs)) {
      await closing;
      return undefined;
    }
    return `LMDB (${this.path}) did not confirm its last commits within ${boundMs} ms (lmdb-js never settles a commit that failed, e.g. on a full disk); closed without waiting: the runs and the commit log keep whatever LMDB did not confirm`;
  }
}
