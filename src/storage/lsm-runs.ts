/**
 * LsmRuns: the SSTable runs of one LSM store (lsm-store.ts) as its background work changes them.
 * A flush writes a frozen memtable as the newest run (`build`, numbered in flush order) and then
 * notes its newest seq in LMDB (`flushed_seq`: recovery refuses a store whose runs lost it,
 * lsm-recovery.ts); a compaction merges every run into LMDB and retires them (`compact`,
 * lsm-compaction.ts), counting what the store's stats report.
 *
 * Invariant: `levels.runs` (newest first) are the synced runs not yet compacted, numbered below
 * `nextRunNo`. Runs on the store's worker thread, which owns `levels`.
 */
import { LatencyHistogram } from '../util/latency-histogram.js';
import type { CompactionReason } from './compaction-scheduler.js';
import type { LmdbLevel } from './lmdb-level.js';
import { compactRuns, retireRuns } from './lsm-compaction.js';
import type { LsmOptions } from './lsm-options.js';
import type { Levels } from './lsm-reads.js';
import type { LsmCounters } from './lsm-stats.js';
import type { Memtable } from './memtable.js';
import { type BlockCache, RunReader } from './sstable-reader.js';
import { writeRun } from './sstable-writer.js';

/** RunsParts are what LsmRuns works on: the store's options, levels, block cache and runs directory. */
export interface RunsParts {
  opts: LsmOptions;
  levels: Levels;
  level: LmdbLevel;
  cache: BlockCache;
  runsDir: string;
  /** nextRunNo is the number the next run gets (above every run recovery saw). */
  nextRunNo: number;
}

/** LsmRuns builds and compacts one store's runs. */
export class LsmRuns {
  readonly counters: LsmCounters = {
    compactions: 0,
    compactionMsTotal: 0,
    lastCompactionMs: 0,
    retiredBloomChecks: 0,
    retiredBloomNegatives: 0,
    retiredBloomFalsePositives: 0,
    retireFailures: 0,
  };
  /** compactionSeconds times each compaction (for the /metrics histogram). */
  readonly compactionSeconds = new LatencyHistogram();
  private readonly p: RunsParts;
  private nextRunNo: number;

  constructor(p: RunsParts) {
    this.p = p;
    this.nextRunNo = p.nextRunNo;
  }

  /** build writes frozen memtable `m` as the newest run (the flush queue calls it). */
  async build(m: Memtable): Promise<void> {
    const { opts, levels, level, cache, runsDir } = this.p;
    const meta = await writeRun(opts.vfs, runsDir, this.nextRunNo, m.entries(), m.size, m.minSeq, m.maxSeq);
    this.nextRunNo++;
    levels.runs.unshift(new RunReader(opts.vfs, meta.path, meta.no, cache));
    // Noted after the run is synced, so an open can tell it went missing (lsm-recovery.ts). Only a
    // check: a failure here fails no flush (a retry would write the memtable as a second run).
    await level.noteFlushed(meta.maxSeq).catch((err: unknown) => {
      opts.log?.warn(
        { err: (err as Error).message, dir: opts.dir, run: meta.path },
        'could not note the flushed run in LMDB; an open cannot tell if it goes missing',
      );
    });
  }

  /** compact merges every current run into LMDB, then retires the runs (the scheduler calls it through the store). */
  async compact(reason: CompactionReason): Promise<void> {
    const { opts, levels, level, runsDir } = this.p;
    const inputs = [...levels.runs];
    const t0 = performance.now();
    await compactRuns(level, inputs);
    const ms = performance.now() - t0;
    levels.runs = levels.runs.filter((r) => !inputs.includes(r));
    const retireError = retireRuns(opts.vfs, runsDir, inputs, this.counters);
    if (retireError !== undefined)
      opts.log?.warn(
        { err: retireError.message, dir: opts.dir },
        'could not delete every compacted run; the next open deletes what is left',
      );
    this.counters.compactions++;
    this.counters.compactionMsTotal += ms;
    this.counters.lastCompactionMs = ms;
    this.compactionSeconds.observe(ms / 1000);
    opts.log?.debug(
      { dir: opts.dir, runs: inputs.length, reason, ms: Math.round(ms) },
      'compacted runs into LMDB',
    );
  }
}
