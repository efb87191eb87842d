/**
 * Opening an LsmStore: recovery from whatever a crash left (docs/architecture.md, "Storage").
 *
 * 1. Open LMDB and read applied_seq A.
 * 2. Delete leftover `*.sst.tmp` files (a flush cut short); open every run, checking footer, index
 *    and bloom; delete runs whose newest seq is ≤ A (a compaction finished but did not get to
 *    delete them). A damaged run stops startup with file and offset, unless `repair` (then it is
 *    moved aside as `.corrupt` and reported; its writes survive only if the WAL still has them).
 * 3. Replay WAL records above D = max(A, newest run seq) into memtables (wal-reader.ts cuts a torn
 *    tail and reports corruption).
 * 4. Continue the WAL after the last good record.
 */
import { join } from 'node:path';
import { CorruptionError } from '../errors.js';
import { latin1Key } from '../util/bytes.js';
import { LmdbLevel } from './lmdb-level.js';
import { type LsmOptions, LsmStore } from './lsm-store.js';
import { Memtable } from './memtable.js';
import { parseRunName } from './sstable-format.js';
import { BlockCache, RunReader } from './sstable-reader.js';
import { putValueOf } from './wal-format.js';
import { readWal } from './wal-reader.js';
import { WalTail } from './wal-tail.js';
import { WalWriter } from './wal-writer.js';

/** openLsmStore recovers (or creates) the LSM store in `opts.dir`. */
export async function openLsmStore(opts: LsmOptions): Promise<LsmStore> {
  const { vfs, dir, log } = opts;
  const runsDir = join(dir, 'runs');
  const walDir = join(dir, 'wal');
  vfs.mkdirp(runsDir);
  vfs.mkdirp(walDir);
  const level = new LmdbLevel(dir);
  try {
    const applied = level.appliedSeq();
    const cache = new BlockCache(opts.blockCacheBytes);
    let runs: RunReader[] = [];
    let maxRunNo = 0;
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
        log?.error(
          { file: path, offset: err.offset, reason: err.message },
          'repair: moved a damaged run aside',
        );
      }
    }
    const obsolete = runs.filter((r) => r.footer.maxSeq <= applied);
    for (const r of obsolete) {
      r.close();
      vfs.unlink(r.path);
    }
    runs = runs.filter((r) => r.footer.maxSeq > applied).sort((a, b) => b.no - a.no);
    const durableSeq = Math.max(applied, runs[0]?.footer.maxSeq ?? 0);

    const t0 = performance.now();
    const { rec, active, frozen, replayed } = await replayWal(opts, walDir, durableSeq);
    for (const d of rec.damage) {
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
          'WAL: cut off a torn record at the tail (a crash during a write that was never acknowledged)',
        );
      else log?.error(fields, 'WAL repair: dropped everything after the damage');
    }
    let segments = rec.segments;
    if (segments.length > 0 && rec.lastSeq < durableSeq) {
      // The log ends below what runs and LMDB hold (its unsynced tail was lost with power, in a
      // non-fsync durability mode): everything it has is durable elsewhere, so start it afresh.
      for (const s of segments) vfs.unlink(s.path);
      vfs.syncDir(walDir);
      log?.warn(
        { dir, wal_last_seq: rec.lastSeq, durable_seq: durableSeq },
        'WAL ends below the durable levels (unsynced tail lost); starting a new log after them',
      );
      segments = [];
    }
    const tail = new WalTail(vfs, opts.ringBytes);
    // The WAL's hook needs the store, which needs the WAL: the hook reads it from here once built.
    const built: { store?: LsmStore } = {};
    const wal = await WalWriter.open({
      onWritten: LsmStore.logWritten(tail, () => built.store),
      vfs,
      dir: walDir,
      segmentBytes: opts.walSegmentBytes,
      durability: opts.durability,
      fsyncIntervalMs: opts.fsyncIntervalMs,
      segments,
      nextSeq: Math.max(rec.lastSeq, durableSeq) + 1,
      ...(log === undefined ? {} : { log }),
    });
    const ms = performance.now() - t0;
    if (replayed > 0) log?.info({ dir, records: replayed, ms: Math.round(ms) }, 'replayed the WAL');
    const store = new LsmStore(opts, {
      level,
      wal,
      runs,
      frozen,
      active,
      cache,
      nextRunNo: maxRunNo + 1,
      durableSeq,
      lastSeq: Math.max(rec.lastSeq, durableSeq),
      runsDir,
      tail,
    });
    built.store = store;
    return store;
  } catch (err) {
    await level.close();
    throw err;
  }
}

/**
 * replayWal reads the WAL records above `afterSeq` into memtables. It is a function of its own
 * because its record callback is a closure: had it been created in openLsmStore, the memtables it
 * captures would share a context with the store's WAL hook, which lives as long as the store, and
 * the first memtable would never be freed after its flush (docs/operations.md, "Memory").
 */
async function replayWal(
  opts: LsmOptions,
  walDir: string,
  afterSeq: number,
): Promise<{
  rec: Awaited<ReturnType<typeof readWal>>;
  active: Memtable;
  frozen: Memtable[];
  replayed: number;
}> {
  const frozen: Memtable[] = [];
  let active = new Memtable();
  let replayed = 0;
  const rec = await readWal(opts.vfs, walDir, {
    afterSeq,
    repair: opts.repair,
    onRecord: (r) => {
      active.apply(latin1Key(r.key), r.seq, putValueOf(r), r.expiresAtMs);
      replayed++;
      if (active.bytes >= opts.memtableBytes) {
        frozen.unshift(active);
        active = new Memtable();
      }
    },
  });
  return { rec, active, frozen, replayed };
}
