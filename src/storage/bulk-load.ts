/**
 * Bulk load: an initial import written straight into an empty LSM store's bottom level (LMDB),
 * without WAL records, memtables, flushes or compactions (docs/bulk-load.md).
 *
 * Each `add` sorts its entries by key bytes (a later entry for the same key wins) and writes them
 * in LMDB write transactions of TXN_ENTRIES keys. `finish` records applied_seq = S (the number of
 * entries loaded) in a last transaction and resolves only once LMDB has synced it (and so every
 * earlier one): the load is durable, and acknowledged, only then. When the store opens afterwards,
 * its log starts at S + 1; a replica that does not hold the same load has an ack below S, which the
 * leader's log no longer covers, so it resyncs from a snapshot (design section 6).
 *
 * Safety: the store must be empty (no WAL record, no run, applied_seq 0, no LMDB key) and no
 * server may have it open. While a load runs, the store directory holds a `LOADING` marker; a load
 * that did not finish (killed, disk full) leaves the marker and part of the data, and may be run
 * again with the same input (puts are idempotent): the marker lets it past the "no LMDB key" check.
 */
import { join } from 'node:path';
import { DistkvError } from '../errors.js';
import { compareBytes } from '../util/bytes.js';
import { LmdbLevel, type LevelWrite } from './lmdb-level.js';
import { parseRunName } from './sstable-format.js';
import type { Vfs } from './vfs.js';
import { readWal } from './wal-reader.js';

/** TXN_ENTRIES is the number of keys per LMDB write transaction of a bulk load. */
export const TXN_ENTRIES = 20_000;
/** LOADING_MARKER is the file present in a store directory while a bulk load runs. */
export const LOADING_MARKER = 'LOADING';

/** BulkEntry is one key and value to load. */
export interface BulkEntry {
  key: Buffer;
  value: Buffer;
}

/** BulkLoader loads entries into one store directory. */
export class BulkLoader {
  readonly dir: string;
  private readonly vfs: Vfs;
  private readonly level: LmdbLevel;
  /** loaded counts entries written (duplicates within one add count once). */
  loaded = 0;

  private constructor(dir: string, vfs: Vfs, level: LmdbLevel) {
    this.dir = dir;
    this.vfs = vfs;
    this.level = level;
  }

  /**
   * open checks that the store in `dir` is empty (or holds an unfinished load), marks it as
   * loading and returns a loader; it throws BULK_LOAD_REFUSED naming the store otherwise.
   */
  static async open(dir: string, vfs: Vfs): Promise<BulkLoader> {
    const refuse = (why: string): never => {
      throw new DistkvError(
        'BULK_LOAD_REFUSED',
        `bulk load into ${dir} refused: ${why} (a bulk load is for initial imports into empty stores; use PUT or POST /kv/_batch)`,
      );
    };
    const runsDir = join(dir, 'runs');
    const walDir = join(dir, 'wal');
    const marker = join(dir, LOADING_MARKER);
    vfs.mkdirp(runsDir);
    vfs.mkdirp(walDir);
    if (vfs.list(runsDir).some((n) => parseRunName(n) !== undefined)) refuse('the store has SSTable runs');
    const wal = await readWal(vfs, walDir, { afterSeq: 0, repair: false, onRecord: () => undefined });
    if (wal.lastSeq > 0) refuse(`the store's log holds writes (last seq ${wal.lastSeq})`);
    const level = new LmdbLevel(dir);
    try {
      if (level.appliedSeq() > 0) refuse(`the store holds data through seq ${level.appliedSeq()}`);
      if (level.stats().keys > 0 && !vfs.exists(marker)) refuse('the store already holds keys');
    } catch (err) {
      await level.close();
      throw err;
    }
    // Empty log segments would make the next start believe the log lost its tail: remove them.
    for (const s of wal.segments) vfs.unlink(s.path);
    await vfs.writeFile(marker, Buffer.from('bulk load in progress\n'));
    vfs.syncDir(dir);
    return new BulkLoader(dir, vfs, level);
  }

  /** add writes `entries` (any order; the last entry for a key wins) into LMDB. */
  async add(entries: BulkEntry[]): Promise<void> {
    const sorted = entries
      .map((e, i) => ({ e, i }))
      .sort((a, b) => compareBytes(a.e.key, b.e.key) || a.i - b.i)
      .map((x) => x.e);
    let txn: LevelWrite[] = [];
    for (let i = 0; i < sorted.length; i++) {
      const e = sorted[i]!;
      const next = sorted[i + 1];
      if (next !== undefined && next.key.equals(e.key)) continue;
      txn.push({ key: e.key, value: e.value });
      this.loaded++;
      if (txn.length >= TXN_ENTRIES) {
        this.level.applyNow(txn);
        txn = [];
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    if (txn.length > 0) this.level.applyNow(txn);
  }

  /** finish makes the load durable with applied_seq = the number of entries loaded, and closes. */
  async finish(): Promise<number> {
    const seq = Math.max(1, this.level.stats().keys);
    await this.level.apply([], seq);
    await this.level.close();
    this.vfs.unlink(join(this.dir, LOADING_MARKER));
    this.vfs.syncDir(this.dir);
    return seq;
  }

  /** abort closes without finishing: the marker stays, and the load may be run again. */
  async abort(): Promise<void> {
    await this.level.close();
  }
}
