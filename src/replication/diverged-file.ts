/**
 * Divergence files: the records a store cut off when it learned that a newer epoch forked from its
 * history below them (docs/failover.md). Nothing is dropped silently: before the store follows the
 * new leader, its records above the fork point are written, in WAL record framing
 * (docs/wal-format.md, no segment header), to a file beside the store directory:
 *   `<store dir>.diverged-<epoch>-<first seq>-<last seq>[.keys-<count>][.<n>].log`
 * where `epoch` is the epoch that forked: the epoch of the leader that told the store so, a leader
 * that never had these records (its epoch as it answered the pull 409 DIVERGED: `X-Distkv-Epoch`
 * over HTTP), or the shard's epoch in the new map for a role change. It may be later than the
 * epoch whose start is the fork point (the leader moved on since), never earlier; it is not the
 * store's own epoch, whose map may lag that leader (it learns of the new epoch from that very
 * answer) and which names the file only when a leader does not say
 * (test/unit/diverged-fork-epoch.test.ts). `.<n>` (2, 3, …) tells apart files whose name would
 * otherwise be the same but hold other records: one epoch number can fork a store twice over the
 * same range (a restart epoch and a failover made apart take the same number), and the second save
 * replaced the first file, the only copy of its records.
 * A file without `.keys-` holds every record of the range, from the store's log. When the log no
 * longer holds them (compacted or flushed away), the store saves what it still holds instead
 * (diverged-scan.ts): `.keys-<count>` marks a file of `count` put records, one per live key whose
 * last write is in the range, with its current value; what the range deleted is not in it.
 * The file is fsynced (as `.partial`, then renamed) before the store is rebuilt, and `/stats` counts
 * the records of these files (`divergedRecords`, `divergedFiles`). A fork is saved once: when a file
 * beside the store already holds the same seq range with the same bytes (the same fork seen twice,
 * as a pull's 409 DIVERGED and as a new map's fork, under another epoch when the map is newer than
 * the leader's answer), a second save keeps that file and writes none.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { RealVfs } from '../storage/real-vfs.js';
import type { Logger } from 'pino';
import type { StoreReplication } from '../storage/store-replication.js';
import type { StoreSpec } from '../worker/messages.js';
import { writeAllSync } from '../util/write-all.js';
import { writeKeysAbove } from './diverged-scan.js';

const READ_BYTES = 4 * 1024 * 1024;

/** divergedFileOf names the divergence file of store directory `dir`; with `keys`, a file of that many keys (diverged-scan.ts). */
export function divergedFileOf(
  dir: string,
  epoch: number,
  first: number,
  last: number,
  keys?: number,
): string {
  return `${dir}.diverged-${epoch}-${first}-${last}${keys === undefined ? '' : `.keys-${keys}`}.log`;
}

/** DivergedName is what a divergence file's name says: the epoch that forked, the seq range, how many records it holds and whether they are keys. */
export interface DivergedName {
  epoch: number;
  first: number;
  last: number;
  /** records is what the file holds: the whole range, or (keys) its `.keys-<count>`. */
  records: number;
  /** keys: the file holds the live keys last written in the range, not the log's records (no deletes). */
  keys: boolean;
}

/** parseDivergedName reads a file name of `divergedFileOf` for store directory base name `base`. */
export function parseDivergedName(base: string, name: string): DivergedName | undefined {
  const m = /^(.*)\.diverged-(\d+)-(\d+)-(\d+)(?:\.keys-(\d+))?(?:\.\d+)?\.log$/.exec(name);
  if (m?.[1] !== base) return undefined;
  const first = Number(m[3]);
  const last = Number(m[4]);
  const keys = m[5] === undefined ? undefined : Number(m[5]);
  return { epoch: Number(m[2]), first, last, records: keys ?? last - first + 1, keys: keys !== undefined };
}

/** ForkSave is what saveForkRecords kept: the file, its records, whether they are keys, whether the file was there already. */
export interface ForkSave {
  file: string;
  records: number;
  /** keys: the log no longer held the records, so the file holds the store's keys above the fork (diverged-scan.ts). */
  keys: boolean;
  /** existing: a file beside the store already held the same bytes for the range (it is kept; `records` is 0). */
  existing: boolean;
}

/**
 * saveForkRecords writes every record of `store` above `fork` to `file` from its log and fsyncs it;
 * when the log no longer holds them (compacted or flushed away), it saves the store's live keys last
 * written above `fork` instead (diverged-scan.ts), in pages that give the event loop a turn between
 * them, to `file` named `.keys-<count>`. Either goes to `<file>.partial` first, renamed once whole:
 * a file named with a seq range holds that range, so `/stats` never counts records a save that gave
 * up did not keep. When a file beside it already holds those records (savedAs), that file is kept
 * and `records` is 0. It throws only when the file cannot be written (an I/O error), leaving no file.
 */
export async function saveForkRecords(
  store: Pick<StoreReplication, 'lastSeq' | 'readLog' | 'scan'>,
  file: string,
  fork: number,
): Promise<ForkSave> {
  const last = store.lastSeq();
  const partial = `${file}.partial`;
  const fd = openSync(partial, 'w');
  if (whole(fd, partial, () => writeLogAbove(store, fd, fork, last)) === undefined)
    return { ...place(fd, partial, file, last - fork), keys: false };
  abandon(fd, partial);
  const keysFd = openSync(partial, 'w');
  let keys: number;
  try {
    keys = await writeKeysAbove(store, keysFd, fork);
  } catch (err) {
    abandon(keysFd, partial);
    throw err;
  }
  const saved = place(keysFd, partial, file.replace(/\.log$/, `.keys-${keys}.log`), keys);
  return { ...saved, keys: true };
}

/** writeLogAbove writes the log records of `store` from `fork` + 1 through `last` to `fd`; returns the seq after which the log was found short, if it was. */
function writeLogAbove(
  store: Pick<StoreReplication, 'readLog'>,
  fd: number,
  fork: number,
  last: number,
): number | undefined {
  for (let after = fork; after < last;) {
    const r = store.readLog(after, READ_BYTES);
    if (r === 'gone' || r.lastSeq <= after) return after;
    writeAllSync(fd, r.records);
    after = r.lastSeq;
  }
  return undefined;
}

/** whole runs `write` on the partial file `fd`; when it throws, the partial file is closed and removed. */
function whole<T>(fd: number, partial: string, write: () => T): T {
  try {
    return write();
  } catch (err) {
    abandon(fd, partial);
    throw err;
  }
}

/** abandon closes and removes a partial file. */
function abandon(fd: number, partial: string): void {
  try {
    closeSync(fd);
  } finally {
    rmSync(partial, { force: true });
  }
}

/**
 * place fsyncs the partial file `fd` and renames it to `file` (or to a free `.<n>` name beside it);
 * when a file beside it already holds the same bytes for the range, it removes the partial file
 * and names that one (`existing`, `records` 0).
 */
function place(
  fd: number,
  partial: string,
  file: string,
  records: number,
): { file: string; records: number; existing: boolean } {
  whole(fd, partial, () => {
    fsyncSync(fd);
  });
  closeSync(fd);
  let free: string;
  try {
    const saved = savedAs(file, partial);
    if (saved !== undefined) {
      rmSync(partial, { force: true });
      return { file: saved, records: 0, existing: true };
    }
    free = freeName(file);
    renameSync(partial, free);
  } catch (err) {
    // A directory with no block left for the longer name, say: no file, as for a failed write.
    rmSync(partial, { force: true });
    throw err;
  }
  new RealVfs().syncDir(dirname(free));
  return { file: free, records, existing: false };
}

/** freeName is `file`, or when a file of that name exists (with other records), the first `<name>.<n>.log` that does not. */
function freeName(file: string): string {
  if (!existsSync(file)) return file;
  const stem = file.slice(0, -'.log'.length);
  let n = 2;
  while (existsSync(`${stem}.${n}.log`)) n++;
  return `${stem}.${n}.log`;
}

/** savedAs names a divergence file beside `file` that holds its seq range (any epoch) with the bytes of `partial`, if any. */
function savedAs(file: string, partial: string): string | undefined {
  const base = /^(.*)\.diverged-/.exec(basename(file))?.[1];
  const want = base === undefined ? undefined : parseDivergedName(base, basename(file));
  if (base === undefined || want === undefined) return undefined;
  const dir = dirname(file);
  const size = statSync(partial).size;
  let bytes: Buffer | undefined;
  for (const name of readdirSync(dir)) {
    const d = parseDivergedName(base, name);
    if (d?.first !== want.first || d.last !== want.last) continue;
    const other = join(dir, name);
    if (statSync(other).size !== size) continue;
    bytes ??= readFileSync(partial);
    if (readFileSync(other).equals(bytes)) return other;
  }
  return undefined;
}

/**
 * saveFork writes the records replica `spec`'s `store` holds above seq `fork` (a leader of epoch
 * `epoch`, the epoch that forked, never had them) to a divergence file beside it named with that
 * epoch (its keys when its log no longer holds them: saveForkRecords), and logs it; the caller
 * then resyncs it. Throws (an I/O error) when no file could be written.
 */
export async function saveFork(
  spec: StoreSpec,
  store: StoreReplication,
  fork: number,
  epoch: number,
  log: Logger | undefined,
): Promise<void> {
  const { name } = spec.shard;
  const file = divergedFileOf(spec.dir, epoch, fork + 1, store.lastSeq());
  const saved = await saveForkRecords(store, file, fork);
  const at = { shard: name, node: spec.node, fork, epoch, ...saved };
  if (saved.existing && store.lastSeq() > fork) {
    log?.info(
      at,
      `store ${name} on ${spec.node}: its records above seq ${fork} are already saved in ${saved.file}; rebuilding from the new leader`,
    );
    return;
  }
  if (saved.keys) {
    log?.warn(
      at,
      `store ${name} on ${spec.node} holds records above seq ${fork} that the leader of epoch ${epoch} never had, no longer in its log (compacted): saved its ${saved.records} keys last written above seq ${fork}, with their current values, to ${saved.file} (what was deleted above seq ${fork} cannot be recovered); rebuilding from the new leader`,
    );
    return;
  }
  log?.warn(
    at,
    `store ${name} on ${spec.node} holds ${saved.records} records above seq ${fork} that the leader of epoch ${epoch} never had: saved to ${saved.file}; rebuilding from the new leader`,
  );
}

/**
 * trySaveFork is saveFork for a role change (`fork` from the new map): it says whether the records
 * were saved. When they could not be (the file could not be written), it logs why and the store is
 * kept as it is: not rebuilt over records nobody saved, its follower (capped at the fork) fails
 * the same way at every pull, so /stats shows it `disconnected` with that error (docs/failover.md).
 */
export async function trySaveFork(
  spec: StoreSpec,
  store: StoreReplication,
  fork: { seq: number; epoch: number },
  log: Logger | undefined,
): Promise<boolean> {
  try {
    await saveFork(spec, store, fork.seq, fork.epoch, log);
    return true;
  } catch (err) {
    log?.error(
      { shard: spec.shard.name, node: spec.node, fork: fork.seq, err: (err as Error).message },
      `store ${spec.shard.name} on ${spec.node} cannot save its records above seq ${fork.seq} before following the new leader: kept as it is, not following`,
    );
    return false;
  }
}

/**
 * removeUnfinishedSaves removes the `.partial` divergence files beside the store in `dir` (called
 * at start, before any save can run): one is left by a process that stopped (a crash, a kill, a
 * power cut) in the middle of a save, and is never whole. Its records are still in the store, which
 * is rebuilt only after a save completed, so the next save writes them again. Returns their names.
 */
export function removeUnfinishedSaves(dir: string, log: Logger | undefined): string[] {
  let names: string[];
  try {
    names = readdirSync(dirname(dir));
  } catch {
    return [];
  }
  const base = basename(dir);
  const removed: string[] = [];
  for (const name of names) {
    if (!name.endsWith('.partial')) continue;
    if (parseDivergedName(base, name.slice(0, -'.partial'.length)) === undefined) continue;
    const file = join(dirname(dir), name);
    rmSync(file, { force: true });
    removed.push(file);
    log?.warn(
      { file },
      `removed ${file}: a save of a divergence file that did not finish (the process stopped during it); the store still holds its records and saves them again if it must`,
    );
  }
  return removed;
}

/** countDiverged counts the records and files the forks of the store in `dir` left beside it (from the file names: a keys file's `.keys-<count>`). */
export function countDiverged(dir: string | undefined): { divergedRecords: number; divergedFiles: number } {
  if (dir === undefined) return { divergedRecords: 0, divergedFiles: 0 };
  let records = 0;
  let files = 0;
  let names: string[] = [];
  try {
    names = readdirSync(dirname(dir));
  } catch {
    // no parent directory yet
  }
  for (const name of names) {
    const d = parseDivergedName(basename(dir), name);
    if (d === undefined) continue;
    files++;
    records += d.records;
  }
  return { divergedRecords: records, divergedFiles: files };
}
