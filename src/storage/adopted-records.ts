/**
 * Records a store takes from logs other than its worker's commit log while it opens (steps 3 and 4
 * of lsm-recovery.ts): the previous layout's own `wal/` (docs/wal-format.md), and the commit log
 * of another worker that the store last wrote to (its `commit-log` file names it,
 * commit-log-home.ts). Both are read-only here: their records are handed to the store's replay
 * (`RecordTaker.migrate`), which writes them into the new log; a migrated `wal/` is removed only
 * once they are durable there (`removeOldWal`).
 */
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { storeIdOf } from './commit-log-format.js';
import { checkHome, homeDir, logIdOf, readHome, storeNameOf } from './commit-log-home.js';
import type { CommitLog } from './commit-log.js';
import type { LogSegment } from './commit-log-index.js';
import { readCommitLog } from './commit-log-reader.js';
import type { LsmOptions } from './lsm-options.js';
import type { Vfs } from './vfs.js';
import type { DecodedRecord } from './wal-format.js';
import { readWal, listSegments, type WalDamage } from './wal-reader.js';

/** LogSettings configure a worker's commit log. */
export interface LogSettings {
  vfs: Vfs;
  /** dir is the log's directory (`<data_dir>/log/w<N>` for worker N). */
  dir: string;
  log?: Logger;
  /** progressMs overrides REPLAY_PROGRESS_MS, the time between two progress lines of the log's replay (replay-progress.ts; tests). */
  progressMs?: number;
}

/** RecordTaker is the replay of one store as the readers here feed it (lsm-recovery.ts's Replay). */
export interface RecordTaker {
  /** last is the seq of the newest record replayed so far. */
  readonly last: number;
  /** durableSeq is the store's durable seq: records above it are replayed. */
  readonly durableSeq: number;
  /** migrated holds the records taken from outside the log, to be written into it. */
  readonly migrated: readonly Buffer[];
  /** migrate replays a record found outside the log and keeps it to be written into it. */
  migrate(r: DecodedRecord): void;
  /** base: the store's log starts again at `nextSeq`. */
  base(nextSeq: number): void;
  /**
   * restart forgets every record replayed above the durable seq (another log holds the store's
   * newer history in full); `newest` is the seq and epoch of the store's newest record there, if known.
   */
  restart(newest: { seq: number; epoch: number } | undefined): void;
}

/** reportDamage logs what a log reader cut off or dropped, `what` naming the log. */
export function reportDamage(damage: readonly WalDamage[], log: Logger | undefined, what: string): void {
  for (const d of damage) {
    const fields = {
      file: d.file,
      offset: d.offset,
      reason: d.reason,
      dropped_bytes: d.droppedBytes,
      dropped_segments: d.droppedSegments,
    };
    if (d.kind === 'torn-tail')
      log?.warn(
        fields,
        `${what}: cut off a torn frame at the tail (a crash during a write that was never acknowledged)`,
      );
    else log?.error(fields, `${what} repair: dropped everything after the damage`);
  }
}

/** migrateOldWal is step 3's read: the previous layout's `wal/` records above what is replayed. */
export async function migrateOldWal(opts: LsmOptions, replay: RecordTaker): Promise<boolean> {
  const walDir = join(opts.dir, 'wal');
  if (listSegments(opts.vfs, walDir).length === 0) return false;
  const rec = await readWal(opts.vfs, walDir, {
    afterSeq: replay.last,
    repair: opts.repair,
    onRecord: (r) => {
      replay.migrate(r);
    },
  });
  reportDamage(rec.damage, opts.log, 'old WAL');
  opts.log?.info(
    { dir: opts.dir, records: replay.migrated.length },
    "migrating the store's own WAL (previous layout) into the worker's commit log",
  );
  return true;
}

/**
 * adoptForeign is step 4: the records of store `id` in the log it last wrote to, if that is another
 * one. That log holds the store's history above its durable seq in full: when the store moved there
 * it took every record above its durable seq of then (this step, run there), and it kept writing
 * there. What this log still holds of the store (records from before it left, not yet trimmed here)
 * is older or the same; so when the other log holds anything of the store, its records replace
 * what was replayed from this one (`restart`). Taking only its records above the newest one replayed
 * here, after its base frames had reset the replay, dropped the store's records that both logs held.
 */
export async function adoptForeign(
  settings: LogSettings,
  opts: LsmOptions,
  id: number,
  replay: RecordTaker,
): Promise<void> {
  const home = readHome(opts.vfs, opts.dir);
  if (home === undefined) return;
  const dir = homeDir(opts.dir, home);
  if (resolve(dir) === resolve(settings.dir) || !settings.vfs.exists(dir)) return;
  const floor = replay.durableSeq;
  const records: DecodedRecord[] = [];
  /** seen: that log holds a record or a base frame of the store. */
  const seen = { store: false };
  /** newest is the seq and epoch of the store's newest record in that log (as Replay tracks it). */
  let newest: { seq: number; epoch: number } | undefined;
  const rec = await readCommitLog(settings.vfs, dir, {
    repair: false,
    readOnly: true,
    onRecord: (store, r) => {
      if (store !== id) return;
      seen.store = true;
      newest = { seq: r.seq, epoch: r.epoch };
      if (r.seq > floor) records.push({ ...r, key: Buffer.from(r.key), value: Buffer.from(r.value) });
    },
    onBase: (store, nextSeq) => {
      if (store !== id) return;
      seen.store = true;
      while (records.length > 0 && records[records.length - 1]!.seq >= nextSeq) records.pop();
      // Only a base that continues right after the newest record keeps that record's epoch.
      if (newest !== undefined && nextSeq !== newest.seq + 1) newest = undefined;
    },
  });
  reportDamage(rec.damage, opts.log, `commit log ${home.path} (read-only)`);
  const foreign = checkHome(
    opts.dir,
    storeNameOf(opts.dir),
    home,
    dir,
    logIdOf(settings.vfs, dir, rec.segments),
  );
  if (foreign !== undefined) {
    if (!opts.repair) throw foreign;
    opts.log?.error({ dir: opts.dir, err: foreign.message }, 'repair: the store takes nothing from that log');
    return;
  }
  if (!seen.store) return;
  replay.restart(newest);
  for (const r of records) replay.migrate(r);
  opts.log?.info(
    { dir: opts.dir, from: home.path, records: records.length },
    "took over the store's records from the log it last wrote to",
  );
}

/**
 * holdMovedStores makes `log` (in `settings.dir`, holding the records `segments` index) keep the
 * records of every store that last wrote into it (its `commit-log` pointer names it) but that none
 * of `attached` is: a store the worker count or a failover moved to another worker, which reads
 * them out of this log when that worker opens it (adoptForeign, step 4), maybe only after this
 * log's first trim; or a store this process does not open (a node of the data directory it does
 * not serve now). Each is held until its pointer names another log. A store that closed with
 * everything in its own files says so in its pointer (`flushed`, commit-log-home.ts) and is not
 * held: a shard moved to another node after a clean stop leaves its directory here, and holding
 * for it would keep this log's oldest segments, and so every later one, for good. Stores are found as
 * `<data_dir>/<node>/<shard>`, `dataDir` being the data directory.
 */
export function holdMovedStores(
  settings: LogSettings,
  dataDir: string,
  log: CommitLog,
  segments: readonly LogSegment[],
  attached: ReadonlySet<number>,
): void {
  const unattached = new Set<number>();
  for (const s of segments) for (const id of s.stores.keys()) if (!attached.has(id)) unattached.add(id);
  if (unattached.size === 0) return;
  const { vfs } = settings;
  const logDir = resolve(settings.dir);
  for (const node of vfs.listDirs(dataDir))
    for (const shard of vfs.listDirs(join(dataDir, node))) {
      const dir = join(dataDir, node, shard);
      const id = storeIdOf(storeNameOf(dir));
      if (!unattached.has(id)) continue;
      const namesThisLog = (): boolean => {
        const home = readHome(vfs, dir);
        return home !== undefined && home.flushed !== true && resolve(homeDir(dir, home)) === logDir;
      };
      if (!namesThisLog()) continue;
      log.holdFor(id, namesThisLog);
      settings.log?.info(
        { dir, log: settings.dir },
        'the commit log keeps the records of a store that last wrote into it until that store takes them',
      );
    }
}

/**
 * loggedSeq returns the seq of the newest record of the store in `dir` that a log still holds
 * (the log its `commit-log` file names, read-only, or a previous layout's own `wal/`), 0 if none.
 */
export async function loggedSeq(vfs: Vfs, dir: string): Promise<number> {
  let last = 0;
  const old = await readWal(vfs, join(dir, 'wal'), { afterSeq: 0, repair: false, onRecord: () => undefined });
  last = old.lastSeq;
  const home = readHome(vfs, dir);
  if (home === undefined || !vfs.exists(homeDir(dir, home))) return last;
  const id = storeIdOf(storeNameOf(dir));
  await readCommitLog(vfs, homeDir(dir, home), {
    repair: false,
    readOnly: true,
    onRecord: (store, r) => {
      if (store === id) last = r.seq;
    },
    onBase: (store, nextSeq) => {
      // Its records from nextSeq on are void: the newest one left (if the log still holds it) is before.
      if (store === id && last >= nextSeq) last = nextSeq - 1;
    },
  });
  return last;
}

/** removeOldWal deletes a migrated `wal/` once its records are durable in the shared log. */
export function removeOldWal(vfs: Vfs, dir: string): void {
  const walDir = join(dir, 'wal');
  for (const name of vfs.list(walDir)) vfs.unlink(join(walDir, name));
  vfs.syncDir(walDir);
  vfs.removeDir(walDir);
  vfs.syncDir(dir);
}
