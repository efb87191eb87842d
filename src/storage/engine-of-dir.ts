/**
 * Which engine wrote a store directory, told from its files, so that a node started with another
 * `storage.engine` (or `--engine`) does not open it as if it were empty or whole: under `lmdb` the
 * writes an `lsm` store holds in its log and runs would read as missing and new writes would start
 * again at seq 1; back under `lsm`, its log would replay over those writes.
 *
 * An `lsm` store has its `commit-log` pointer, `runs/` and `lmdb/` (and, from before the shared
 * log, `wal/`); an `lmdb` store has `data.mdb` at the top of its directory. `memory` writes
 * nothing, and a directory with none of these files is a new store for any engine. A store that
 * holds data is refused under `memory` too: it would serve every key on disk as missing.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DistkvError } from '../errors.js';
import type { StorageEngine } from '../config/schema.js';

/** LSM_FILES are the names only an lsm store directory holds; LMDB_FILE is the lmdb engine's. */
const LSM_FILES = ['commit-log', 'runs', 'lmdb', 'wal'];
const LMDB_FILE = 'data.mdb';

/** engineOfDir returns the engine whose files `dir` holds, or undefined for a new (or missing) store. */
export function engineOfDir(dir: string): 'lsm' | 'lmdb' | undefined {
  if (LSM_FILES.some((name) => existsSync(join(dir, name)))) return 'lsm';
  if (existsSync(join(dir, LMDB_FILE))) return 'lmdb';
  return undefined;
}

/**
 * checkEngineOfDir throws CONFIG_INVALID when the store in `dir` was written by another engine
 * than `engine`, naming both and what to do.
 */
export function checkEngineOfDir(dir: string, engine: StorageEngine, name: string): void {
  const wrote = engineOfDir(dir);
  if (wrote === undefined || wrote === engine) return;
  if (engine === 'memory')
    throw new DistkvError(
      'CONFIG_INVALID',
      `store ${name} in ${dir} holds data of the ${wrote} engine: the memory engine would serve it as ` +
        `empty (it neither reads nor changes the directory); start with --engine ${wrote} ` +
        `(storage.engine = "${wrote}"), or give the memory engine another --data-dir`,
    );
  throw new DistkvError(
    'CONFIG_INVALID',
    `store ${name} in ${dir} was written by the ${wrote} engine, not ${engine}: its writes would ` +
      `not be seen (and later ones lost); start with --engine ${wrote} (storage.engine = "${wrote}"), ` +
      `or move the data with distkv backup and distkv restore into a node on an empty data directory`,
  );
}
