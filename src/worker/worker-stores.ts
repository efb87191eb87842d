/**
 * WorkerStores: the stores one shard worker hosts, from opening to closing.
 *
 * On disk: each store in its own directory `<data_dir>/<node>/<shard>`; the lsm stores of the
 * worker share one commit log in `<data_dir>/log/w<N>` (`workerLogDir`, docs/commit-log-format.md)
 * and open together over it. A store that cannot open (a damaged file, a failed replay) is logged
 * with its file, cause and stack and kept in `failed`: every request for it gets UNAVAILABLE naming
 * it and the cause, while the other stores open and serve. If the commit log cannot be read, every
 * lsm store answers with its error.
 *
 * `hosted` is the map ReplicationHost shares: it replaces a replica's store there when the replica
 * resyncs, so a store is always looked up by index, never kept across a turn. Each opened store's
 * last seq is published into the shared positions array. Owned by one shard worker thread.
 */
import { statfsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { CorruptionError, DistkvError, toDistkvError } from '../errors.js';
import type { HostedStore } from '../replication/replication-host.js';
import { localErrorSlot, type Positions, SLOT_LAST_SEQ, SLOT_STORE_ERROR } from '../replication/positions.js';
import { RESYNC_MARKER, readResyncMarker } from '../replication/resync-marker.js';
import type { CommitLog } from '../storage/commit-log.js';
import { quietLmdbOrphans, routeLmdbConsoleErrors } from '../storage/lmdb-console.js';
import { checkEngineOfDir } from '../storage/engine-of-dir.js';
import { attachLsmStore, openLsmStores } from '../storage/lsm-recovery.js';
import { lsmOptionsOf, type OpenStoreOptions, openStore } from '../storage/open-store.js';
import { RealVfs } from '../storage/real-vfs.js';
import type { ReplayReport } from '../storage/replay-progress.js';
import type { Store } from '../storage/store.js';
import type { Vfs } from '../storage/vfs.js';
import type { FromWorker, StoreSpec, StoreStatsReport } from './messages.js';
import { noteSlots, SLOTS_FILE, type SlotRange } from '../storage/own-slots.js';

/** openFailure is the UNAVAILABLE error a store that could not open answers with: which store, and why. */
function openFailure(spec: StoreSpec, err: unknown): DistkvError {
  return new DistkvError(
    'UNAVAILABLE',
    `store ${spec.shard.name} (${spec.role} on ${spec.node}) could not open: ${toDistkvError(err).message}`,
  );
}

/**
 * refuseHalfLoadedLeader closes `store` and throws UNAVAILABLE when it is to lead but its resync
 * marker says a snapshot load began and never finished (src/replication/resync-marker.ts): a
 * replica promoted (a forced failover) in the middle of its resync holds part of a snapshot under
 * a seq that does not describe it. Led, it served that part as the shard's state and its log went
 * on from that seq. It answers with the reason until an operator fails the shard over to another
 * replica or rebuilds this one (docs/failover.md).
 */
async function refuseHalfLoadedLeader(spec: StoreSpec, store: Store): Promise<void> {
  if (spec.role !== 'leader' || readResyncMarker(join(spec.dir, RESYNC_MARKER)) !== 'loading') return;
  await store.close();
  throw new DistkvError(
    'UNAVAILABLE',
    `it is to lead, but it stopped in the middle of loading a leader snapshot (${RESYNC_MARKER} says loading): ` +
      `it holds part of a snapshot and will not lead over it; fail the shard over to another replica, ` +
      `or rebuild this one (docs/failover.md)`,
  );
}

/**
 * warnOfMovedSlots records the store's slot range (src/storage/own-slots.ts) and, when the layout moved it,
 * warns that the keys it holds outside the new range are no longer read (and what to do).
 */
async function warnOfMovedSlots(spec: StoreSpec, log: Logger | undefined): Promise<void> {
  const now = { first: spec.shard.first, last: spec.shard.last };
  let before: SlotRange | undefined;
  try {
    before = await noteSlots(spec.dir, now);
  } catch (err) {
    // A hint only: the store serves without it.
    log?.warn(
      { err, dir: spec.dir },
      `store ${spec.shard.name}: could not record its slots in ${SLOTS_FILE}`,
    );
  }
  if (before === undefined) return;
  const was = `${before.first}-${before.last}`;
  const is = `${now.first}-${now.last}`;
  log?.warn(
    { dir: spec.dir, slots_before: was, slots: is },
    `store ${spec.shard.name} (${spec.role} on ${spec.node}): its slots changed from ${was} to ${is} ` +
      `with the layout: keys it holds outside ${is} are no longer read or listed (another shard owns ` +
      `them now) and GET /purge would delete them. To move them, start again with the previous layout, ` +
      `distkv backup FILE, then start this layout on an empty data directory and distkv restore FILE ` +
      `(docs/operations.md, "Changing the layout")`,
  );
}

/** LOG_FAILURE_PUBLISH_MS spaces WorkerStores' looks at its commit log's failure (publishLogFailure). */
const LOG_FAILURE_PUBLISH_MS = 1000;

/**
 * storeOptionsOf is what a store of `spec` is opened with; `positions` hears its directory lost
 * (SLOT_STORE_ERROR, read by /cluster on the main thread without asking this worker). The slot is
 * cleared here, as the store opens: a replica rebuilt after a resync has a directory again.
 */
function storeOptionsOf(spec: StoreSpec, log: Logger | undefined, positions: Positions): OpenStoreOptions {
  positions.set(spec.index, SLOT_STORE_ERROR, 0);
  return {
    dir: spec.dir,
    durability: spec.durability,
    fsyncIntervalMs: spec.fsyncIntervalMs,
    lsm: spec.lsm,
    repair: spec.repair,
    ...(log === undefined ? {} : { log }),
    onDirLost: (lost) => {
      positions.set(spec.index, SLOT_STORE_ERROR, localErrorSlot(lost.code));
    },
  };
}

/**
 * workerLogDir is the commit log directory of worker `worker`: `<data_dir>/log/w<N>`, beside the
 * node directories (a store directory is `<data_dir>/<node>/<shard>`). One log per worker, not
 * per node: the stores of every node the worker hosts share its turn, hence its fdatasync.
 */
export function workerLogDir(storeDir: string, worker: number): string {
  return join(dirname(dirname(storeDir)), 'log', `w${worker}`);
}

/** WorkerStores holds the open stores of one worker by store index, and those that failed to open. */
export class WorkerStores {
  /** hosted holds the open stores; ReplicationHost replaces a replica's store here when it resyncs. */
  readonly hosted = new Map<number, HostedStore>();
  /** failed holds the stores that could not open, with the error every request for them gets. */
  private readonly failed = new Map<number, DistkvError>();
  /** commitLog is the log every lsm store of this worker writes into (docs/commit-log-format.md). */
  private commitLog: CommitLog | undefined;
  /** published are the stores whose SLOT_STORE_ERROR publishLogFailure set (a lost directory's is the watch's). */
  private readonly published = new Set<number>();
  /** logWatch publishes the commit log's failure every LOG_FAILURE_PUBLISH_MS (publishLogFailure). */
  private logWatch: NodeJS.Timeout | undefined;
  /** vfs is the file system of the commit log and the lsm stores' runs (set by `open`). */
  private vfs: Vfs | undefined;
  private readonly positions: Positions;
  private readonly log: Logger | undefined;

  constructor(positions: Positions, log: Logger | undefined) {
    this.positions = positions;
    this.log = log;
    if (log !== undefined) {
      routeLmdbConsoleErrors(log);
      quietLmdbOrphans(log);
    }
  }

  /**
   * open opens (recovering) every store of `specs`; the lsm ones together over worker `worker`'s
   * commit log, on `vfs`. A store that cannot open goes to `failed` (logged) instead of throwing.
   * `report` hears the progress of the log's replay (src/storage/replay-progress.ts).
   */
  async open(
    specs: readonly StoreSpec[],
    worker: number,
    vfs: Vfs = new RealVfs(),
    report?: (r: ReplayReport) => void,
  ): Promise<void> {
    const log = this.log;
    this.vfs = vfs;
    const logOf = (spec: StoreSpec): Logger | undefined =>
      log?.child({ shard: spec.shard.name, role: spec.role, node: spec.node });
    // A store another engine wrote is not opened (nothing in its directory changes): engine-of-dir.ts.
    const outcomes = new Map<number, Store | Error>();
    for (const spec of specs)
      try {
        checkEngineOfDir(spec.dir, spec.engine, spec.shard.name);
      } catch (err) {
        outcomes.set(spec.index, err as Error);
      }
    const lsm = specs.filter((spec) => spec.engine === 'lsm' && !outcomes.has(spec.index));
    if (lsm.length > 0) {
      try {
        const opened = await openLsmStores(
          {
            vfs,
            dir: workerLogDir(lsm[0]!.dir, worker),
            ...(log === undefined ? {} : { log }),
          },
          lsm.map((spec) => lsmOptionsOf(storeOptionsOf(spec, logOf(spec), this.positions), vfs)),
          report,
        );
        this.commitLog = opened.log;
        this.logWatch = setInterval(() => {
          this.publishLogFailure();
        }, LOG_FAILURE_PUBLISH_MS);
        this.logWatch.unref();
        opened.stores.forEach((s, i) => outcomes.set(lsm[i]!.index, s));
      } catch (err) {
        for (const spec of lsm) outcomes.set(spec.index, err as Error);
      }
    } else report?.({ bytes: 0, totalBytes: 0, elapsedMs: 0, done: true }); // no commit log to replay
    for (const spec of specs) {
      const storeLog = logOf(spec);
      try {
        const opened = outcomes.get(spec.index);
        if (opened instanceof Error) throw opened;
        const store =
          opened ?? (await openStore(spec.engine, storeOptionsOf(spec, storeLog, this.positions)));
        await refuseHalfLoadedLeader(spec, store);
        this.hosted.set(spec.index, { spec, store });
        this.positions.set(spec.index, SLOT_LAST_SEQ, store.lastSeq());
        if (spec.engine !== 'memory') await warnOfMovedSlots(spec, storeLog);
      } catch (err) {
        this.failed.set(spec.index, openFailure(spec, err));
        storeLog?.error(
          {
            err,
            dir: spec.dir,
            ...(err instanceof CorruptionError ? { file: err.file, offset: err.offset } : {}),
          },
          `store ${spec.shard.name} (${spec.role} on ${spec.node}) could not open: ${toDistkvError(err).message}`,
        );
      }
    }
  }

  /**
   * publishLogFailure shows in SLOT_STORE_ERROR, for /cluster, what refuses every write of a store
   * now: its own files failing (Store.writeRefusal: flushes or compactions failing with writes piled
   * up, e.g. STORE_DIR_DENIED, CORRUPTION), else the commit log's failure for every store on the log
   * (commit-log-failure.ts `failing`: a full disk, until a batch is written again). A leader whose
   * every write got 507 showed as healthy there and `distkv cluster` exited 0; after a failed flush
   * it still did. A directory lost (store-dir-watch.ts `onDirLost`) is left as it is: it outlasts
   * the disk; what this sets (`published`) is cleared once it is over.
   */
  private publishLogFailure(): void {
    const logCode = this.logFailureNow();
    for (const [index, { spec, store }] of this.hosted) {
      if (spec.engine !== 'lsm') continue;
      const now = this.positions.get(index, SLOT_STORE_ERROR);
      if (now !== 0 && !this.published.has(index)) continue;
      const slot = localErrorSlot(store.writeRefusal?.()?.code ?? logCode);
      if (slot === 0) this.published.delete(index);
      else this.published.add(index);
      if (now !== slot) this.positions.set(index, SLOT_STORE_ERROR, slot);
    }
  }

  /**
   * logFailureNow is the code of the commit log's failure as /cluster shows it: none once a disk
   * that was full has room for two segments again. The log's failure lasts until a batch is written
   * (`failing`), and the next batch goes out as soon as a write comes (after RETRY_MS): `distkv
   * cluster` said NO WRITES, "refuses every write", for as long as no client wrote after the disk
   * was freed (40 s in a test), though the next write was taken.
   */
  private logFailureNow(): string | undefined {
    const log = this.commitLog;
    const failure = log?.failing();
    if (log === undefined || failure === undefined) return undefined;
    // The file system's own code, down the chain of causes (an I/O error is no full disk).
    let full = false;
    for (let e: unknown = failure.cause; e instanceof Error && !full; e = e.cause) {
      const errno = (e as NodeJS.ErrnoException).code;
      full = errno === 'ENOSPC' || errno === 'EDQUOT';
    }
    if (failure.code !== 'DISK_FULL' || !full) return failure.code;
    try {
      const fs = statfsSync(log.dir);
      return fs.bavail * fs.bsize >= 2 * log.segmentBytes ? undefined : failure.code;
    } catch {
      return failure.code;
    }
  }

  /**
   * reopen opens a store of `spec` afresh (a replica after a resync), into the commit log when there
   * is one, and records its slots again: the rebuilt directory had lost its SLOTS file, so the next
   * start with a changed layout did not warn of this store's moved slots, as it did of the others.
   */
  async reopen(spec: StoreSpec): Promise<Store> {
    const options = storeOptionsOf(spec, this.log, this.positions);
    const store =
      this.commitLog === undefined
        ? await openStore(spec.engine, options)
        : await attachLsmStore(this.commitLog, lsmOptionsOf(options, this.vfs));
    if (spec.engine !== 'memory') await warnOfMovedSlots(spec, this.log);
    return store;
  }

  /** at returns the open store at `index`, or throws the UNAVAILABLE error it answers with. */
  at(index: number): Store {
    const entry = this.hosted.get(index);
    if (entry === undefined)
      throw (
        this.failed.get(index) ?? new DistkvError('UNAVAILABLE', `store ${index} is not open on this worker`)
      );
    return entry.store;
  }

  /** readyMessage describes the opened stores and those that failed. */
  readyMessage(): FromWorker {
    const stores = [...this.hosted.values()].map(({ spec, store }) => {
      const s = store.stats();
      return { index: spec.index, engine: store.engine, keys: s.keys, lastSeq: s.lastSeq };
    });
    const failedStores = [...this.failed].map(([index, err]) => ({ index, error: err.toWire() }));
    return { type: 'ready', stores, failedStores };
  }

  /** statsReport is every store's stats: an open one's with `extra(index)` (replication's figures) merged in. */
  statsReport(extra: (index: number) => Record<string, unknown> | undefined): StoreStatsReport[] {
    return [
      ...[...this.hosted.entries()].map(([index, { store }]) => ({
        index,
        stats: {
          state: 'open',
          ...store.stats(),
          ...store.timings?.(),
          ...extra(index),
        },
      })),
      ...[...this.failed].map(([index, err]) => ({
        index,
        stats: { state: 'failed', error: err.message },
      })),
    ];
  }

  /**
   * close closes every store (flushing what they hold), then the commit log, which writes and
   * syncs what is pending whatever the durability mode: every store's close has ended (not only
   * until the first failed, as before) before the log closes under them. A store or the log that
   * did not close cleanly is logged with its cause, and close then rejects with the first failure:
   * the node keeps its running mark (src/server/run-marker.ts).
   */
  async close(): Promise<void> {
    clearInterval(this.logWatch);
    const all = [...this.hosted.entries()];
    this.hosted.clear();
    const failures: unknown[] = [];
    const closed = await Promise.allSettled(all.map(([, { store }]) => store.close()));
    closed.forEach((r, i) => {
      if (r.status === 'fulfilled') return;
      failures.push(r.reason);
      this.log?.error(
        { err: (r.reason as Error).message, store: all[i]![0] },
        'a store did not close cleanly; the next start replays the commit log',
      );
    });
    try {
      await this.commitLog?.close();
    } catch (err) {
      failures.push(err);
      // In `interval` and `none` durability, acknowledged records may not be on disk.
      this.log?.error(
        { err: (err as Error).message },
        'could not write and sync the commit log at close: acknowledged writes since its last sync may be lost',
      );
    } finally {
      this.commitLog = undefined;
    }
    if (failures.length > 0) throw failures[0];
  }
}
