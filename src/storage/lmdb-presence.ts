/**
 * Whether a store's LMDB level (`<store>/lmdb/data.mdb`, lmdb-level.ts) is the one the store had.
 *
 * LMDB creates an environment wherever it is opened, so a store whose `lmdb/` was removed by hand
 * opened as a new, empty one. After `distkv load` no log record holds the loaded seqs, so nothing
 * else noticed: the store was served empty (every key 404). A store that took writes since was
 * refused, but as a run lost from under it (a gap below its log's records), naming a run that never
 * existed. So before LMDB is opened, a new one (its data file absent, or empty: never initialised)
 * is refused in a store directory that holds a file only ever written once its LMDB existed:
 *
 * - its `commit-log` pointer (commit-log-home.ts): every open writes it, after the store's LMDB
 *   was opened and, for a new LMDB, made durable (`syncNewLmdb`);
 * - its `history.json` (history-format.ts): a bulk load names it once LMDB synced the load, a
 *   store that leads or follows once it is open.
 *
 * A new store directory holds neither, and neither does one whose first open stopped anywhere
 * before it wrote its pointer (its runs directory made, its LMDB half created or not yet): such
 * a store opens as new. A resync's wipe removes `lmdb/` last (src/replication/resync-marker.ts),
 * so a wipe cut short leaves no pointer beside a removed LMDB.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CorruptionError } from '../errors.js';
import { HOME_FILE, storeNameOf } from './commit-log-home.js';
import { HISTORY_FILE } from './history-format.js';
import type { Vfs } from './vfs.js';
import { syncPath } from '../util/durable-file.js';

/** LMDB_DIR names a store's LMDB directory (lmdb-level.ts keeps `data.mdb` in it). */
export const LMDB_DIR = 'lmdb';

/** LMDB_DATA_FILE names LMDB's data file in LMDB_DIR. */
const LMDB_DATA_FILE = 'data.mdb';

/**
 * lmdbIsNew says whether opening store `dir`'s LMDB creates a new environment: its data file is
 * absent or empty. Anything else in the way (a file where LMDB_DIR belongs, a directory it may
 * not read) is left to the open, which names it (dir-errors.ts).
 */
export function lmdbIsNew(dir: string): boolean {
  try {
    const lmdbDir = statSync(join(dir, LMDB_DIR), { throwIfNoEntry: false });
    if (lmdbDir === undefined) return true;
    if (!lmdbDir.isDirectory()) return false;
    const file = statSync(join(dir, LMDB_DIR, LMDB_DATA_FILE), { throwIfNoEntry: false });
    return file === undefined || (file.isFile() && file.size === 0);
  } catch {
    return false;
  }
}

/**
 * refuseLostLmdb throws CORRUPTION naming store `dir`'s LMDB data file and directory when its LMDB is new
 * (`lmdbIsNew`) while the store held one (see the module comment; its pointer is looked for
 * through `vfs`). `--repair` does not open it either: what LMDB held (every key compacted or
 * bulk-loaded) is in no other file of the store.
 */
export function refuseLostLmdb(vfs: Vfs, dir: string): void {
  if (!lmdbIsNew(dir)) return;
  // The pointer is written through the store's Vfs; history.json, as LMDB, on the real file system.
  const evidence = [
    ...(vfs.exists(join(dir, HOME_FILE)) ? [HOME_FILE] : []),
    ...(existsSync(join(dir, HISTORY_FILE)) ? [HISTORY_FILE] : []),
  ];
  if (evidence.length === 0) return;
  const lmdbDir = join(dir, LMDB_DIR);
  throw new CorruptionError(
    join(lmdbDir, LMDB_DATA_FILE),
    0,
    `store ${storeNameOf(dir)}: its LMDB level ${lmdbDir}/ is missing (no ${LMDB_DATA_FILE}, or an empty one), but the store had one (its ${evidence.join(' and ')} ${evidence.length > 1 ? 'are' : 'is'} only written once its LMDB exists): ` +
      `every key compacted or bulk-loaded into it is gone, and opened, the store would serve without them. ` +
      `Put ${lmdbDir}/ back (from a copy of this store), or remove the store directory ${dir} so it starts empty ` +
      `(start with --repair if the commit log still holds records of it): a replica then resyncs from its leader; ` +
      `a leader's data is gone (restore it from a backup, or fail over to a replica first)`,
  );
}

/**
 * syncNewLmdb makes the LMDB environment just created in store `dir` durable (its data file, the
 * file's name in LMDB_DIR and LMDB_DIR's name in `dir`) before anything else of the store says it
 * exists: else a power cut after the store's pointer was written could take the new LMDB and
 * leave the pointer, and the next open refuse a store that never held anything.
 */
export function syncNewLmdb(dir: string): void {
  for (const path of [join(dir, LMDB_DIR, LMDB_DATA_FILE), join(dir, LMDB_DIR), dir]) syncPath(path);
}
