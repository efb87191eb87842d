/**
 * Bulk load: an initial import written into an empty LSM store's bottom level (LMDB) in key order,
 * without WAL records, memtables or compactions by the server (docs/bulk-load.md).
 *
 * Each `add` sorts its entries by key bytes (a later entry for the same key wins), gives them the
 * next seqs and writes them as one SSTable run in the store's `runs/` directory (an external sort:
 * memory holds one chunk). `finish` merges every run newest-wins into LMDB in key order (so B-tree
 * pages fill up, as with appends) in synchronous write transactions of TXN_ENTRIES keys, records
 * applied_seq = S (the last seq given) in a last transaction and resolves only once LMDB has
 * synced it (and so every earlier one): the load is durable, and acknowledged, only then; then the
 * runs are deleted. When the store opens afterwards its log starts at S + 1; a replica that does
 * not hold the same load has an ack below S, which the leader's log does not cover, so it resyncs
 * from a snapshot (design section 6).
 *
 * History id: `finish` names the history the store now holds (history-format.ts) before its marker
 * goes, with the id the caller gives (the same for a shard's leader and its replicas loaded in one
 * run: src/cli/load.ts), or leaves it without one (a replica loaded alone takes its leader's at its
 * first pull); an id the store had before (a leader served empty names one) is another history's.
 *
 * Safety: the store must be empty (no record in its log, no run, applied_seq 0, no LMDB key) and no
 * server may have it open. While a load runs, the store directory holds a `LOADING` marker; a load
 * that did not finish (killed, disk full, a mistake in the input) leaves the marker, and may be run
 * again, with the same input or another: the store is emptied first (its runs and LMDB: startOver).
 */
import { join } from 'node:path';
import { DistkvError } from '../errors.js';
import { compareBytes } from '../util/bytes.js';
import { LmdbLevel, type LevelWrite } from './lmdb-level.js';
import { mergeNewest, type Versioned } from './merge-iterator.js';
import { parseRunName } from './sstable-format.js';
import { BlockCache, RunReader } from './sstable-reader.js';
import { writeRun } from './sstable-writer.js';
import type { Vfs } from './vfs.js';
import { loggedSeq } from './adopted-records.js';
import { LOADING_MARKER } from './bulk-load-marker.js';
import { removeHistoryFile, writeHistoryFile } from './history-format.js';

/** TXN_ENTRIES is the number of keys per LMDB write transaction of a bulk load. */
export const TXN_ENTRIES = 20_000;

/** BulkEntry is one key and value to load. */
export interface BulkEntry {
  key: Buffer;
  value: Buffer;
}

/**
 * startOver empties a store that holds an unfinished load (its LOADING marker): its runs (`runs`,
 * their names) and its LMDB environment, which may hold keys that load merged before it stopped
 * (its last step merges runs into LMDB in transactions of TXN_ENTRIES keys, then syncs
 * applied_seq, then removes the marker). The store was empty before that load (open refuses any
 * other), so an empty environment is what it held: the load run again, whatever its input, then
 * holds exactly that input, with seqs 1..S under applied_seq S. Keeping the merged keys (the load
 * used to delete only the runs) served keys of the earlier input with seqs above the store's last
 * seq, so a later write of one gave it a lower version. Its history.json goes too (that load names
 * one just before it removes its marker: a crash in between leaves both), before the run again
 * names its own. The marker stays throughout: a crash at any step leaves a store the next load
 * empties again, and that serve refuses.
 */
function startOver(vfs: Vfs, dir: string, runs: readonly string[]): void {
  const runsDir = join(dir, 'runs');
  for (const n of runs) vfs.unlink(join(runsDir, n));
  vfs.syncDir(runsDir);
  // data.mdb and its lock file: LMDB creates both again, empty, when the loader opens it.
  const lmdbDir = join(dir, 'lmdb');
  const files = vfs.list(lmdbDir);
  for (const n of files) vfs.unlink(join(lmdbDir, n));
  if (files.length > 0) vfs.syncDir(lmdbDir);
  removeHistoryFile(dir);
}

/** BulkLoader loads entries into one store directory. */
export class BulkLoader {
  readonly dir: string;
  private readonly vfs: Vfs;
  private readonly level: LmdbLevel;
  private readonly runsDir: string;
  /** runs written so far, oldest first. */
  private readonly runs: string[] = [];
  /** lastSeq is the seq given to the last entry written. */
  private lastSeq = 0;

  private constructor(dir: string, vfs: Vfs, level: LmdbLevel) {
    this.dir = dir;
    this.vfs = vfs;
    this.level = level;
    this.runsDir = join(dir, 'runs');
  }

  /**
   * open checks that the store in `dir` is empty (or holds an unfinished load), marks it as
   * loading and returns a loader; it throws BULK_LOAD_REFUSED naming the store otherwise.
   */
  static async open(dir: string, vfs: Vfs): Promise<BulkLoader> {
    const refuse = (why: string): never => {
      throw new DistkvError(
        'BULK_LOAD_REFUSED',
        `bulk load into ${dir} refused: ${why} (a bulk load is for initial imports into empty stores)`,
      );
    };
    const runsDir = join(dir, 'runs');
    const marker = join(dir, LOADING_MARKER);
    vfs.mkdirp(runsDir);
    const resuming = vfs.exists(marker);
    const leftover = vfs.list(runsDir).filter((n) => parseRunName(n) !== undefined || n.endsWith('.tmp'));
    if (leftover.length > 0 && !resuming) refuse('the store has SSTable runs');
    const logged = await loggedSeq(vfs, dir);
    if (logged > 0) refuse(`the store's log holds writes (last seq ${logged})`);
    if (resuming) startOver(vfs, dir, leftover);
    const level = new LmdbLevel(dir);
    try {
      if (level.appliedSeq() > 0) refuse(`the store holds data through seq ${level.appliedSeq()}`);
      if (level.stats().keys > 0) refuse('the store already holds keys');
    } catch (err) {
      await level.close();
      throw err;
    }
    await vfs.writeFile(marker, Buffer.from('bulk load in progress\n'));
    vfs.syncDir(dir);
    return new BulkLoader(dir, vfs, level);
  }

  /** add sorts `entries` (the last entry for a key wins) and writes them as the next run. */
  async add(entries: BulkEntry[]): Promise<void> {
    const sorted = entries
      .map((e, i) => ({ e, i }))
      .sort((a, b) => compareBytes(a.e.key, b.e.key) || a.i - b.i)
      .map((x) => x.e);
    const unique: [string, Versioned][] = [];
    for (let i = 0; i < sorted.length; i++) {
      const e = sorted[i]!;
      if (sorted[i + 1]?.key.equals(e.key) === true) continue;
      unique.push([
        e.key.toString('latin1'),
        { seq: this.lastSeq + unique.length + 1, value: e.value, expiresAtMs: 0 },
      ]);
    }
    if (unique.length === 0) return;
    const first = this.lastSeq + 1;
    this.lastSeq += unique.length;
    const meta = await writeRun(
      this.vfs,
      this.runsDir,
      this.runs.length + 1,
      unique,
      unique.length,
      first,
      this.lastSeq,
    );
    this.runs.push(meta.path);
  }

  /**
   * finish merges the runs into LMDB in key order, makes it durable with applied_seq = S, closes,
   * and makes `history` the store's history id (none when undefined); resolves with S.
   */
  async finish(history: string | undefined): Promise<number> {
    const cache = new BlockCache(0);
    const readers = this.runs.map((path, i) => new RunReader(this.vfs, path, i + 1, cache)).reverse();
    try {
      let txn: LevelWrite[] = [];
      for (const [key, v] of mergeNewest(readers.map((r) => r.entries(undefined, false)))) {
        txn.push({
          key: Buffer.from(key, 'latin1'),
          value: v.value,
          seq: v.seq,
          expiresAtMs: v.expiresAtMs ?? 0,
        });
        if (txn.length >= TXN_ENTRIES) {
          this.level.applyNow(txn);
          txn = [];
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
      this.level.applyNow(txn);
    } finally {
      for (const r of readers) r.close();
    }
    const seq = Math.max(1, this.lastSeq);
    await this.level.apply([], seq);
    await this.level.close();
    for (const path of this.runs) this.vfs.unlink(path);
    this.vfs.syncDir(this.runsDir);
    // Durable before the marker goes: a store that serve opens holds its load and names its history.
    if (history === undefined) removeHistoryFile(this.dir);
    else writeHistoryFile(this.dir, history);
    this.vfs.unlink(join(this.dir, LOADING_MARKER));
    this.vfs.syncDir(this.dir);
    return seq;
  }

  /** abort closes without finishing: the marker stays, and the load may be run again. */
  async abort(): Promise<void> {
    await this.level.close();
  }
}
