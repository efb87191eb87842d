/**
 * Opening LsmStores: recovery from whatever a crash left (docs/architecture.md, "Storage").
 *
 * The stores of a worker share one commit log (commit-log.ts). `openLsmStores` opens them together:
 * 1. Per store: refuse a new LMDB where the store had one (removed by hand: lmdb-presence.ts),
 *    open LMDB and read applied_seq A; delete leftover `*.sst.tmp` files; open every
 *    run, checking footer, index and bloom; delete runs whose newest seq is ≤ A. A damaged run
 *    makes that store fail to open (the others open), unless `repair` (it is moved aside as
 *    `.corrupt` and reported). A run missing (a gap in the numbers, or an oldest run starting
 *    above A + 1) refuses the store too. D = max(A, newest run seq) is the store's durable seq.
 * 2. Read the shared log once (commit-log-reader.ts cuts a torn tail and reports corruption) and
 *    replay each store's records above its D into its memtables. A store whose `commit-log` file
 *    recorded another log id for this directory is refused (commit-log-home.ts; `repair`: it keeps
 *    only what its own files hold), and so is a store whose directory was missing while the log
 *    holds records of it (`refuseRemovedDir`; `repair`: it opens empty), and so is a store whose
 *    records skip seqs above D or stop short of the newest run noted flushed (`refuseLostWrites`).
 * 3. Migrate the previous layout: a store directory with a `wal/` of its own (docs/wal-format.md)
 *    has that log's records above what step 2 found replayed too; they are then written into the
 *    shared log, synced, and `wal/` is removed (adopted-records.ts, as step 4).
 * 4. A store that last wrote into another worker's log (the worker count changed, or a restart
 *    after failover planned it elsewhere; its `commit-log` file names that log) has that log's
 *    records of it read too, read-only (once that log's id is checked the same way), and written
 *    into this log like step 3's.
 * 5. Attach every store to the log with a base frame (its next seq), sync, record in each store's
 *    `commit-log` file which log (directory and id) it writes to, and start trimming.
 *
 * `attachLsmStore` opens one store into a running log without replaying it (a replica rebuilt from
 * a snapshot: whatever the log held of it is void from its base frame on). `openLsmStore` opens a
 * store with a commit log of its own in `<dir>/log` (tools and tests).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CorruptionError } from '../errors.js';
import {
  adoptForeign,
  holdMovedStores,
  type LogSettings,
  migrateOldWal,
  removeOldWal,
  reportDamage,
} from './adopted-records.js';
import { CommitLog } from './commit-log.js';
import { LOG_HEADER_BYTES, storeIdOf } from './commit-log-format.js';
import type { LogSegment } from './commit-log-index.js';
import { checkHome, logIdOf, readHome, storeNameOf, writeHome } from './commit-log-home.js';
import { readCommitLog } from './commit-log-reader.js';
import { LmdbLevel } from './lmdb-level.js';
import { lmdbIsNew, refuseLostLmdb, syncNewLmdb } from './lmdb-presence.js';
import type { LsmOptions } from './lsm-options.js';
import { LsmStore } from './lsm-store.js';
import { parseRunName, runName } from './sstable-format.js';
import { BlockCache, RunReader } from './sstable-reader.js';
import { Replay } from './lsm-replay.js';
import { ReplayProgress, type ReplayReport } from './replay-progress.js';
import { StoreLog } from './store-log.js';
import type { Vfs } from './vfs.js';

/** Levels are what step 1 opened for one store. */
interface Levels {
  /** fresh: the store's directory did not exist before this open (a new store, or one removed by hand). */
  fresh: boolean;
  level: LmdbLevel;
  runs: RunReader[];
  cache: BlockCache;
  maxRunNo: number;
  /** applied is LMDB's applied_seq; durableSeq = max(applied, newest run's maxSeq). */
  applied: number;
  durableSeq: number;
  /**
   * aside is set when `repair` moved a damaged run aside (`runs`): every write up to `floor` is in
   * LMDB or a run older than it, its writes are above and below `ceil` (the oldest seq of the live
   * runs newer than it, when there is one), and the live runs hold through `held` (what durableSeq
   * was): repairFloor, settleAside.
   */
  aside?: { floor: number; ceil: number | undefined; held: number; runs: string[] };
}

/** openLevels is step 1 for one store. */
async function openLevels(opts: LsmOptions): Promise<Levels> {
  const { vfs, dir, log } = opts;
  // LMDB always lives on the real file system, in the store's directory: its absence is real.
  const fresh = !existsSync(dir);
  const runsDir = join(dir, 'runs');
  vfs.mkdirp(runsDir);
  refuseLostLmdb(vfs, dir);
  const created = lmdbIsNew(dir);
  const level = new LmdbLevel(dir);
  try {
    if (created) syncNewLmdb(dir);
    const applied = level.appliedSeq();
    // With overlappingSync LMDB opens its newest commit within the same boot even when that commit
    // was never synced (the previous process was killed while compaction waited for the sync): a
    // power cut now would bring back an older applied_seq. Make it durable before deleting the
    // runs (and trimming the log records) it covers.
    if (applied > 0) await level.apply([], applied);
    const cache = new BlockCache(opts.blockCacheBytes);
    let runs: RunReader[] = [];
    let maxRunNo = 0;
    const aside: { no: number; path: string }[] = [];
    for (const name of vfs.list(runsDir)) {
      const path = join(runsDir, name);
      if (name.endsWith('.tmp')) {
        vfs.unlink(path);
        continue;
      }
      const no = parseRunName(name);
      if (no === undefined) continue;
      maxRunNo = Math.max(maxRunNo, no);
      try {
        runs.push(new RunReader(vfs, path, no, cache));
      } catch (err) {
        if (!(err instanceof CorruptionError) || !opts.repair) throw err;
        vfs.rename(path, `${path}.corrupt`);
        aside.push({ no, path });
        log?.error(
          { file: path, offset: err.offset, reason: err.message },
          'repair: moved a damaged run aside (its writes are replayed from the commit log where it still holds them; those it does not are reported next)',
        );
      }
    }
    const obsolete = runs.filter((r) => r.footer.maxSeq <= applied);
    for (const r of obsolete) {
      r.close();
      vfs.unlink(r.path);
    }
    runs = runs.filter((r) => r.footer.maxSeq > applied).sort((a, b) => b.no - a.no);
    await checkNoRunMissing(opts, runsDir, runs);
    await checkOldestRun(opts, runsDir, runs, applied);
    const floor = repairFloor(aside, runs, applied);
    const held = Math.max(applied, runs[0]?.footer.maxSeq ?? 0);
    const newer = runs.filter((r) => aside.some((a) => r.no > a.no)).map((r) => r.footer.minSeq);
    return {
      fresh,
      level,
      runs,
      cache,
      maxRunNo,
      applied,
      // Durable only through the floor: the log keeps the records above it until they are in a run again.
      durableSeq: floor ?? held,
      ...(floor === undefined
        ? {}
        : {
            aside: {
              floor,
              ceil: newer.length === 0 ? undefined : Math.min(...newer),
              held,
              runs: aside.map((a) => a.path),
            },
          }),
    };
  } catch (err) {
    await level.close();
    throw err;
  }
}

/**
 * repairFloor is the seq through which every write of a store is still in LMDB or a live run
 * (`runs`, newest first) once `repair` moved the runs `aside` (undefined: none): the newest seq of
 * the live runs older than the oldest one moved aside, or applied_seq. Its writes were above it,
 * so recovery replays the commit log's records from there (a run numbered after it is flushed
 * later, so its records are newer); those the log no longer holds are reported as lost
 * (`refuseLostWrites`). Before, the run's writes were dropped, reported as "moved a damaged run
 * aside" alone: a leader so repaired silently lacked acknowledged writes its replica held, at the
 * same seq.
 */
function repairFloor(
  aside: readonly { no: number }[],
  runs: readonly RunReader[],
  applied: number,
): number | undefined {
  if (aside.length === 0) return undefined;
  const oldest = Math.min(...aside.map((a) => a.no));
  return runs.filter((r) => r.no < oldest).reduce((m, r) => Math.max(m, r.footer.maxSeq), applied);
}

/**
 * emptiedSegments maps each segment of the log that follows one holding no frame (only its header:
 * cut or emptied by hand, as no roll leaves a segment so) to that empty segment's path. A store
 * whose records skip seqs and resume in such a following segment had them in the empty one: the
 * refusal names it (refuseLostWrites), not the store's runs. The log itself cannot see that gap
 * when the empty segment is its oldest (no earlier record of the store sets what seq comes next).
 */
function emptiedSegments(segments: readonly LogSegment[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let k = 1; k < segments.length; k++)
    if (segments[k - 1]!.bytes <= LOG_HEADER_BYTES) out.set(segments[k]!.path, segments[k - 1]!.path);
  return out;
}

/**
 * settleAside, after the log's replay, makes a store whose damaged runs `repair` moved aside hold
 * what its live runs hold (its seq never below theirs), counts as lost only the seqs between the
 * floor and the newer live runs that the log did not replay (refuseLostWrites reports them), and
 * says when the log gave back every write of those runs.
 */
function settleAside(o: { opts: LsmOptions; levels: Levels; replay: Replay }): void {
  const { aside } = o.levels;
  if (aside === undefined) return;
  const { replay } = o;
  // Nothing replayed: the log holds none of the store's records above the floor.
  const h = replay.replayed === 0 ? { from: aside.floor + 1, to: Infinity } : replay.hole;
  if (h !== undefined && aside.ceil !== undefined) {
    // From the newer live runs' oldest seq on, the runs hold the writes the log no longer does.
    if (h.from < aside.ceil) replay.hole = { from: h.from, to: Math.min(h.to, aside.ceil - 1) };
    else if (h.to <= aside.held) replay.hole = undefined;
  }
  if (replay.last < aside.held) replay.last = aside.held;
  if (replay.hole === undefined && o.levels.level.flushedSeq() <= replay.last)
    o.opts.log?.warn(
      { dir: o.opts.dir, runs: aside.runs, from: aside.floor + 1, records: replay.replayed },
      `repair: the writes of the runs moved aside (seqs from ${aside.floor + 1}) were replayed from the commit log: none is lost`,
    );
}

/**
 * checkNoRunMissing refuses a gap in the numbers of the live runs (`runs`, newest first): runs are
 * numbered in flush order and compaction retires the oldest ones together, so the live ones are
 * consecutive, and a number missing between two of them is a run deleted from under the store,
 * whose writes the log no longer holds. A run an earlier repair moved aside (`.corrupt`) or found
 * missing (it left an empty `.missing` file) was reported then. With `repair` the store opens
 * without it (reads of its keys find older versions) and leaves the `.missing` file.
 */
async function checkNoRunMissing(
  opts: LsmOptions,
  runsDir: string,
  runs: readonly RunReader[],
): Promise<void> {
  for (let i = 0; i + 1 < runs.length; i++)
    for (let no = runs[i + 1]!.no + 1; no < runs[i]!.no; no++) {
      const path = join(runsDir, runName(no));
      if (opts.vfs.exists(`${path}.corrupt`) || opts.vfs.exists(`${path}.missing`)) continue;
      const what = `run is missing: runs ${runName(runs[i + 1]!.no)} and ${runName(runs[i]!.no)} are live, so its writes are in no other file`;
      if (!opts.repair)
        throw new CorruptionError(path, 0, `${what} (restart with --repair to open without it)`);
      opts.log?.error({ file: path, reason: what }, 'repair: opened without a missing run');
      await opts.vfs.writeFile(`${path}.missing`, Buffer.alloc(0));
      opts.vfs.syncDir(runsDir);
    }
}

/**
 * checkOldestRun refuses a store whose oldest live run (`runs` newest first) starts above
 * applied_seq + 1: memtables take the store's seqs in turn and are flushed in that order, and a
 * compaction takes every run into LMDB, so the writes between are in an older run deleted from
 * under the store. A marker below that run (`.missing` left by an earlier repair, or the
 * `.corrupt` run it moved aside) says it was reported. With `repair` the store opens without them
 * and leaves the `.missing` marker.
 */
async function checkOldestRun(
  opts: LsmOptions,
  runsDir: string,
  runs: readonly RunReader[],
  applied: number,
): Promise<void> {
  const oldest = runs[runs.length - 1];
  if (oldest === undefined || oldest.footer.minSeq <= applied + 1) return;
  const path = join(runsDir, runName(Math.max(0, oldest.no - 1)));
  if (opts.vfs.exists(`${path}.corrupt`) || opts.vfs.exists(`${path}.missing`)) return;
  const what = `a run older than ${runName(oldest.no)} is missing: LMDB holds the writes through seq ${applied} and the oldest run starts at seq ${oldest.footer.minSeq}, so the writes between are in no file`;
  if (!opts.repair)
    throw new CorruptionError(
      path,
      0,
      `${what} (put the run back, or restart with --repair to open without those writes)`,
    );
  opts.log?.error({ file: path, reason: what }, 'repair: opened without a missing run');
  await opts.vfs.writeFile(`${path}.missing`, Buffer.alloc(0));
  opts.vfs.syncDir(runsDir);
}

/**
 * refuseLostWrites refuses store `o` when its files and its log leave a stretch of its seqs in no
 * record: a run newer than its newest live one was noted flushed (LmdbLevel.flushedSeq) beyond
 * what the runs, LMDB and the log's records hold, or the log's records of it skip seqs (Replay's
 * hole). Either is a run deleted or cut short by hand, a store directory replaced by an older copy
 * (the log trimmed past what the copy holds), or a log that lost records: opened, the
 * store would serve older versions of those keys, and a replica would take it for its leader's
 * state at its seq. With `repair` it opens without them (and the note is lowered to what it holds).
 */
async function refuseLostWrites(
  settings: LogSettings,
  o: { opts: LsmOptions; levels: Levels; replay: Replay; emptied?: string | undefined },
): Promise<void> {
  const { opts, levels, replay } = o;
  const flushed = levels.level.flushedSeq();
  const lost = replay.hole ?? (flushed > replay.last ? { from: replay.last + 1, to: flushed } : undefined);
  if (lost === undefined) return;
  const runsDir = join(opts.dir, 'runs');
  const newest = levels.runs[0] === undefined ? 'no run' : `newest run ${runName(levels.runs[0].no)}`;
  const held = levels.aside?.held ?? levels.durableSeq;
  const cause =
    levels.aside === undefined
      ? "a run was deleted or cut short by hand, or the store's directory was replaced by an older copy"
      : `they were in the damaged runs moved aside (${levels.aside.runs.join(', ')}); a replica of the shard holds them: for a leader, fail it over to its most advanced replica, then move this store's directory aside and start with --repair, so it copies the shard back`;
  const what =
    o.emptied !== undefined && replay.hole !== undefined
      ? `store ${storeNameOf(opts.dir)}: its writes at seqs ${lost.from}..${lost.to} are in no file: the commit log segment ${o.emptied} holds no frame though a later one follows (a segment rolls only once it holds a batch), and the store's records resume in the next one: it was cut or emptied by hand`
      : `store ${storeNameOf(opts.dir)}: its writes at seqs ${lost.from}..${lost.to} are in no file (LMDB holds through seq ${levels.applied}, ${newest} through seq ${held}, a run was flushed through seq ${flushed}, and the commit log ${settings.dir} holds none of them): ${cause}`;
  if (!opts.repair)
    throw new CorruptionError(
      o.emptied !== undefined && replay.hole !== undefined ? o.emptied : runsDir,
      0,
      `${what}; put the missing run (or the directory's newer copy) back, or restart with --repair to open without those writes`,
    );
  (opts.log ?? settings.log)?.error({ dir: opts.dir, from: lost.from, to: lost.to }, `repair: ${what}`);
  if (flushed > replay.last) await levels.level.noteFlushed(replay.last, true);
}

/** OpenedStores are what openLsmStores returns: the shared log and, per input, a store or why it failed. */
export interface OpenedStores {
  log: CommitLog;
  stores: (LsmStore | Error)[];
}

/**
 * openLsmStores opens the stores of one worker over one shared commit log (see the module comment);
 * `report` hears the progress of the log's replay (replay-progress.ts).
 */
export async function openLsmStores(
  settings: LogSettings,
  all: readonly LsmOptions[],
  report?: (r: ReplayReport) => void,
): Promise<OpenedStores> {
  const first = all[0];
  if (first === undefined) throw new Error('openLsmStores needs at least one store');
  const results: (LsmStore | Error)[] = [];
  const opened = new Map<
    number,
    { i: number; opts: LsmOptions; levels: Levels; replay: Replay; emptied?: string | undefined }
  >();
  const failed: number[] = [];
  for (const [i, opts] of all.entries()) {
    try {
      const levels = await openLevels(opts);
      const id = storeIdOf(storeNameOf(opts.dir));
      if (opened.has(id))
        throw new Error(`store ${opts.dir} has the same log id as ${opened.get(id)!.opts.dir}`);
      opened.set(id, { i, opts, levels, replay: new Replay(levels.durableSeq, opts.memtableBytes) });
      results.push(new Error('not attached'));
    } catch (err) {
      failed.push(storeIdOf(storeNameOf(opts.dir)));
      results.push(err as Error);
    }
  }
  const t0 = performance.now();
  const progress = new ReplayProgress(settings.log, settings.dir, settings.progressMs, undefined, report);
  let rec;
  try {
    rec = await readCommitLog(settings.vfs, settings.dir, {
      repair: first.repair,
      onRecord: (store, r, segment) => {
        progress.records++;
        opened.get(store)?.replay.apply(r, segment);
      },
      onBase: (store, nextSeq) => {
        opened.get(store)?.replay.base(nextSeq);
      },
      onProgress: (bytes, total) => {
        progress.frame(bytes, total);
      },
    });
    progress.done();
  } catch (err) {
    for (const o of opened.values()) await o.levels.level.close();
    throw err;
  }
  reportDamage(rec.damage, settings.log, 'commit log');
  const migrating: { dir: string; vfs: Vfs }[] = [];
  const logId = logIdOf(settings.vfs, settings.dir, rec.segments);
  const emptied = emptiedSegments(rec.segments);
  for (const [id, o] of opened) {
    try {
      settleAside(o);
      o.emptied = o.replay.holeEndsIn === undefined ? undefined : emptied.get(o.replay.holeEndsIn);
      bindToLog(settings, o, logId);
      refuseRemovedDir(settings, o);
      await adoptForeign(settings, o.opts, id, o.replay);
      const migrated = await migrateOldWal(o.opts, o.replay);
      await refuseLostWrites(settings, o);
      if (migrated) migrating.push({ dir: o.opts.dir, vfs: o.opts.vfs });
    } catch (err) {
      results[o.i] = err as Error;
      failed.push(id);
      opened.delete(id);
      await o.levels.level.close();
    }
  }
  const log = await CommitLog.open({
    vfs: settings.vfs,
    dir: settings.dir,
    segmentBytes: first.walSegmentBytes,
    retentionBytes: first.walRetentionBytes,
    durability: first.durability,
    fsyncIntervalMs: first.fsyncIntervalMs,
    segments: rec.segments,
    ...(settings.log === undefined ? {} : { log: settings.log }),
  });
  for (const id of failed) log.pin(id);
  holdMovedStores(
    settings,
    dirname(dirname(first.dir)),
    log,
    rec.segments,
    new Set([...opened.keys(), ...failed]),
  );
  await Promise.all(
    [...opened].map(async ([id, o]) => {
      const { replay, levels } = o;
      const start = replay.migrated.length > 0 ? replay.migratedFirst : replay.last + 1;
      const storeLog = new StoreLog(log, id, start, o.opts.ringBytes);
      storeLog.setDurable(levels.durableSeq);
      await log.attach(storeLog, start);
      if (replay.migrated.length > 0)
        await storeLog.appendRecords(Buffer.concat(replay.migrated), start, replay.last);
      replay.migrated = [];
      if (replay.replayed > 0)
        o.opts.log?.info(
          { dir: o.opts.dir, records: replay.replayed, ms: Math.round(performance.now() - t0) },
          'replayed the commit log',
        );
      results[o.i] = buildStore(o.opts, levels, replay, storeLog);
    }),
  );
  await log.sync();
  for (const m of migrating) removeOldWal(m.vfs, m.dir);
  for (const o of opened.values())
    await writeHome(o.opts.vfs, o.opts.dir, storeNameOf(o.opts.dir), settings.dir, log.id);
  log.startTrimming();
  return { log, stores: results };
}

/**
 * bindToLog refuses store `o` the log it was read from when its pointer recorded another log there
 * (commit-log-home.ts); with `repair` the store keeps only what its own files hold: what was
 * replayed for it from this log is dropped, and its base frame voids the log's records of it.
 */
function bindToLog(
  settings: LogSettings,
  o: { opts: LsmOptions; levels: Levels; replay: Replay },
  logId: string | undefined,
): void {
  const home = readHome(o.opts.vfs, o.opts.dir);
  const refused = checkHome(o.opts.dir, storeNameOf(o.opts.dir), home, settings.dir, logId);
  if (refused === undefined) return;
  if (!o.opts.repair) throw refused;
  (o.opts.log ?? settings.log)?.error(
    { dir: o.opts.dir, err: refused.message, durableSeq: o.levels.durableSeq, dropped: o.replay.replayed },
    `repair: store ${o.opts.dir} opens from its own files alone, at seq ${o.levels.durableSeq}; ${o.replay.replayed} records of it in ${settings.dir} are not its own and are dropped, and its own records above that seq are lost`,
  );
  o.replay = new Replay(o.levels.durableSeq, o.opts.memtableBytes);
}

/**
 * refuseRemovedDir refuses store `o` whose directory did not exist at open while the log holds
 * records of it (above seq 0, not voided by a base frame): the directory was removed by hand (a
 * resync keeps it, with its marker) while its writes were still in the worker's log. Replayed
 * into the new empty store, those records alone would be served as the whole store (the older
 * ones, compacted into the removed LMDB, gone) and a replica would take it for its leader's state.
 * With `repair` the store opens empty: the log's records of it are dropped (its base frame voids
 * them), so a replica resyncs from its leader and a leader starts empty.
 */
function refuseRemovedDir(
  settings: LogSettings,
  o: { opts: LsmOptions; levels: Levels; replay: Replay },
): void {
  if (!o.levels.fresh || o.replay.replayed === 0) return;
  const what = `store ${storeNameOf(o.opts.dir)}: its directory ${o.opts.dir} is missing, but the commit log ${settings.dir} holds ${o.replay.replayed} of its records (through seq ${o.replay.last}): the directory was removed while its writes were still in the log, and those alone are not the store`;
  if (!o.opts.repair)
    throw new CorruptionError(
      o.opts.dir,
      0,
      `${what}; put the directory back, or start with --repair to open it empty (a replica then resyncs from its leader; a leader's data is gone: restore it from a backup or fail over to a replica first)`,
    );
  (o.opts.log ?? settings.log)?.error(
    { dir: o.opts.dir, dropped: o.replay.replayed },
    `repair: ${what}; it opens empty and they are dropped`,
  );
  o.replay = new Replay(o.levels.durableSeq, o.opts.memtableBytes);
}

function buildStore(opts: LsmOptions, levels: Levels, replay: Replay, storeLog: StoreLog): LsmStore {
  return new LsmStore(opts, {
    level: levels.level,
    log: storeLog,
    runs: levels.runs,
    frozen: replay.frozen,
    active: replay.active,
    cache: levels.cache,
    nextRunNo: levels.maxRunNo + 1,
    durableSeq: levels.durableSeq,
    lastSeq: replay.last,
    runsDir: join(opts.dir, 'runs'),
    ...(replay.epoch !== undefined && replay.epochSeq === replay.last ? { logEpoch: replay.epoch } : {}),
  });
}

/** attachLsmStore opens a store into a running worker's log without replaying it (see the module comment). */
export async function attachLsmStore(log: CommitLog, opts: LsmOptions): Promise<LsmStore> {
  const levels = await openLevels(opts);
  // No log is replayed here: the store holds what its files hold, its seq never below its runs'.
  if (levels.aside !== undefined) levels.durableSeq = levels.aside.held;
  try {
    const storeLog = new StoreLog(
      log,
      storeIdOf(storeNameOf(opts.dir)),
      levels.durableSeq + 1,
      opts.ringBytes,
    );
    storeLog.setDurable(levels.durableSeq);
    await log.attach(storeLog, levels.durableSeq + 1);
    await writeHome(opts.vfs, opts.dir, storeNameOf(opts.dir), log.dir, log.id);
    return buildStore(opts, levels, new Replay(levels.durableSeq, opts.memtableBytes), storeLog);
  } catch (err) {
    await levels.level.close();
    throw err;
  }
}

/** openLsmStore recovers (or creates) one store with a commit log of its own in `<dir>/log`. */
export async function openLsmStore(opts: LsmOptions): Promise<LsmStore> {
  const { log, stores } = await openLsmStores(
    { vfs: opts.vfs, dir: join(opts.dir, 'log'), ...(opts.log === undefined ? {} : { log: opts.log }) },
    [opts],
  );
  const store = stores[0]!;
  if (store instanceof Error) {
    await log.close();
    throw store;
  }
  store.adoptLog(log);
  return store;
}
