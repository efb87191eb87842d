/**
 * A store's pointer to its commit log (docs/commit-log-format.md, "A store's log"): the file
 * HOME_FILE (`commit-log`) in the store directory names the log directory its records are in (a
 * path from the store directory) and, since pointer version 2, that log's id (commit-log-identity.ts)
 * and the store's own name in it (its directory relative to the data directory).
 *
 * The log's identity alone proves that its segments belong to the log in that directory, not that
 * the log belongs to these stores: a log directory replaced as a whole, `.log-id` included (restored
 * from another worker or node, or from another copy of the data directory), would have every store
 * of the worker replay records that are not its own, or miss its own. So a store opening into a log
 * compares the id its pointer recorded with the log's: another id is refused as corruption naming
 * the store and the log directory (`checkHome`), and `--repair` opens the store from its own files
 * alone (its records that were only in its own log are lost, and reported). A pointer of version 1
 * (a path alone) is accepted and rewritten with the id.
 *
 * A pointer written under another store name was copied with its store directory to another node
 * (a shard moved by a config change, docs/operations.md: the store stopped cleanly, so its
 * directory holds all its data): it says nothing about the logs of this place and is not checked.
 *
 * On disk: `<path>\n` (version 1) or `<path>\n<log id in hex>\n<store name>\n` (version 2),
 * followed by `flushed\n` when the store closed with every record it wrote into the log in its own
 * files (runs, LMDB): the log holds nothing it needs (a store that moved to another worker, or is
 * not opened by this process, is then not held for, adopted-records.ts). Every open writes the
 * pointer again without it. Earlier builds read the first three lines only.
 */
import { basename, dirname, join, relative, resolve } from 'node:path';
import { CorruptionError } from '../errors.js';
import { LOG_ID_FILE } from './commit-log-format.js';
import { readLogId } from './commit-log-identity.js';
import type { LogSegment } from './commit-log-index.js';
import type { Vfs } from './vfs.js';

/** HOME_FILE names the file in a store directory that says which log holds its records. */
export const HOME_FILE = 'commit-log';

/** LogHome is what a store's pointer says: its log's directory (from the store directory) and, if recorded, its id and the store's name. */
export interface LogHome {
  path: string;
  logId: string | undefined;
  store: string | undefined;
  /** flushed: the store closed with everything it wrote into the log in its own files. */
  flushed?: boolean;
}

/** readHome reads the pointer of the store in `dir`, or undefined when it has none. */
export function readHome(vfs: Vfs, dir: string): LogHome | undefined {
  const file = join(dir, HOME_FILE);
  if (!vfs.exists(file)) return undefined;
  const [path = '', id = '', store = '', flushed = ''] = vfs.readFile(file).toString('utf8').split('\n');
  const logId = /^[0-9a-f]+$/.test(id.trim()) ? id.trim() : undefined;
  return {
    path: path.trim(),
    logId,
    store: logId === undefined ? undefined : store.trim(),
    flushed: logId !== undefined && flushed.trim() === FLUSHED,
  };
}

/** FLUSHED is the pointer's fourth line when the store closed with the log holding nothing it needs. */
const FLUSHED = 'flushed';

/**
 * writeHome points store `store` (its name in the log) in `dir` at log `logDir` with id `logId`
 * (atomically, synced), unless it already is; `flushed` says the store closed with everything it
 * wrote into that log in its own files (only a closing store says so: an open one writes again).
 */
export async function writeHome(
  vfs: Vfs,
  dir: string,
  store: string,
  logDir: string,
  logId: string,
  flushed = false,
): Promise<void> {
  const path = relative(dir, logDir);
  const now = readHome(vfs, dir);
  if (now?.path === path && now.logId === logId && now.store === store && now.flushed === flushed) return;
  const tmp = join(dir, `${HOME_FILE}.tmp`);
  await vfs.writeFile(tmp, Buffer.from(`${path}\n${logId}\n${store}\n${flushed ? `${FLUSHED}\n` : ''}`));
  vfs.rename(tmp, join(dir, HOME_FILE));
  vfs.syncDir(dir);
}

/**
 * logIdOf is the id of the log in `logDir` as recovery sees it: its LOG_ID_FILE's, else its oldest
 * identified segment's (`segments`, as read), undefined for a log without identity (new, or of
 * commit log format 1).
 */
export function logIdOf(vfs: Vfs, logDir: string, segments: readonly LogSegment[]): string | undefined {
  return readLogId(vfs, logDir)?.id ?? segments.find((s) => s.logId !== undefined)?.logId;
}

/** homeDir is the log directory a pointer names, resolved from store directory `dir`. */
export function homeDir(dir: string, home: LogHome): string {
  return join(dir, home.path);
}

/**
 * checkHome returns the error refusing store `store` in `dir`, whose pointer is `home`, to read log
 * `logDir` (id `logId`) as its own, or undefined when nothing says it is not: the pointer, written
 * under this store name, names that directory with another id. A pointer naming another directory
 * is checked against that one.
 */
export function checkHome(
  dir: string,
  store: string,
  home: LogHome | undefined,
  logDir: string,
  logId: string | undefined,
): CorruptionError | undefined {
  if (home?.logId === undefined || home.store !== store) return undefined;
  if (resolve(homeDir(dir, home)) !== resolve(logDir)) return undefined;
  if (logId === home.logId) return undefined;
  return new CorruptionError(
    join(logDir, LOG_ID_FILE),
    0,
    `store ${dir} was written into commit log ${home.logId} (its ${HOME_FILE} file), but ${logDir} holds ${logId === undefined ? 'a log without identity' : `commit log ${logId}`}: the log directory was replaced (restored from another worker or node?), so its records are not this store's and the store's own are missing; put the store's log back, or start with --repair to open the store from its own files alone`,
  );
}

/** storeNameOf is a store's name in the log: its directory relative to the data directory. */
export function storeNameOf(dir: string): string {
  return `${basename(dirname(dir))}/${basename(dir)}`;
}
