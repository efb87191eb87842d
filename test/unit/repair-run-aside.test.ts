/**
 * `--repair` and a damaged run (its footer cut: `runs/NNNNNN.sst` truncated by hand or by a disk).
 * The run is moved aside as `.corrupt`; its writes were dropped with it, reported as "moved a
 * damaged run aside" alone, though the commit log still held them: a leader so repaired lacked 64
 * acknowledged writes its replica held, at the same seq, and nothing said so. Now recovery replays
 * the log from the last seq the older runs and LMDB hold (lsm-recovery.ts `repairFloor`), and what
 * the log no longer holds is reported as lost with its seqs (`settleAside`, `refuseLostWrites`),
 * only those the newer runs do not hold.
 */
import assert from 'node:assert/strict';
import { readdirSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import type { LsmOptions } from '../../src/storage/lsm-options.js';
import { openTestLsm } from '../helpers/lsm.js';
import { tempDir } from '../helpers/temp-dir.js';

const key = (i: number): Buffer => Buffer.from(`key${String(i).padStart(6, '0')}`);
const value = (i: number): Buffer => Buffer.alloc(100, i % 251);

interface LogLine {
  level: number;
  msg: string;
  from?: number;
  to?: number;
}

/** capture returns a pino logger whose lines land in `lines`. */
function capture(lines: LogLine[]): NonNullable<LsmOptions['log']> {
  return pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
}

/** written writes `n` keys into a new store in `dir` (several runs, no compaction) and closes it; returns its run files, oldest first. */
async function written(dir: string, n: number, walSegmentBytes: number): Promise<string[]> {
  const s = await openTestLsm(dir, {
    memtableBytes: 4096,
    maxRuns: 1000,
    walSegmentBytes,
    idleCompactMs: 3_600_000,
  });
  for (let i = 0; i < n; i++) await s.put(key(i), value(i));
  await s.close();
  return readdirSync(join(dir, 'runs'))
    .filter((f) => f.endsWith('.sst'))
    .sort()
    .map((f) => join(dir, 'runs', f));
}

/** cutFooter truncates the run at `path` to half its size (its footer gone). */
function cutFooter(path: string): void {
  truncateSync(path, Math.floor(statSync(path).size / 2));
}

describe('--repair with a damaged run', () => {
  it('replays the run’s writes from the commit log when it still holds them: nothing is lost', async () => {
    const dir = tempDir(after);
    const runs = await written(dir, 300, 1 << 20);
    assert.ok(runs.length >= 4, `runs: ${String(runs.length)}`);
    cutFooter(runs[1]!);
    const lines: LogLine[] = [];
    const s = await openTestLsm(dir, {
      memtableBytes: 4096,
      maxRuns: 1000,
      walSegmentBytes: 1 << 20,
      repair: true,
      log: capture(lines),
    });
    try {
      for (let i = 0; i < 300; i++) assert.deepEqual(s.get(key(i)), value(i), `key ${String(i)}`);
      assert.equal(s.lastSeq(), 300);
      assert.ok(
        lines.some((l) => l.msg.includes('were replayed from the commit log: none is lost')),
        JSON.stringify(lines),
      );
      await s.put(key(1000), value(1000));
      assert.equal(s.lastSeq(), 301);
    } finally {
      await s.close();
    }
    // And again: the replayed writes are in a run now.
    const again = await openTestLsm(dir, { memtableBytes: 4096, maxRuns: 1000, walSegmentBytes: 1 << 20 });
    try {
      for (let i = 0; i < 300; i++)
        assert.deepEqual(again.get(key(i)), value(i), `key ${String(i)} after a restart`);
      assert.equal(again.lastSeq(), 301);
    } finally {
      await again.close();
    }
  });

  it('reports the seqs the log no longer holds, and only those the newer runs do not hold', async () => {
    const dir = tempDir(after);
    // Small segments: the log trims the records once they are in runs.
    const runs = await written(dir, 600, 4096);
    assert.ok(runs.length >= 6, `runs: ${String(runs.length)}`);
    cutFooter(runs[1]!);
    const lines: LogLine[] = [];
    const s = await openTestLsm(dir, {
      memtableBytes: 4096,
      maxRuns: 1000,
      walSegmentBytes: 4096,
      repair: true,
      log: capture(lines),
    });
    try {
      const lost = lines.find((l) =>
        /^repair: store .* its writes at seqs \d+\.\.\d+ are in no file/.test(l.msg),
      );
      assert.ok(lost !== undefined, JSON.stringify(lines.map((l) => l.msg)));
      const missing = [...Array(600).keys()].filter((i) => s.get(key(i)) === undefined);
      // Keys are written once each, key i at seq i + 1: the lost seqs are exactly the missing keys.
      assert.deepEqual(
        missing,
        Array.from({ length: lost.to! - lost.from! + 1 }, (_, j) => lost.from! - 1 + j),
        `lost ${String(lost.from)}..${String(lost.to)}`,
      );
      for (let i = 0; i < 600; i++) if (!missing.includes(i)) assert.deepEqual(s.get(key(i)), value(i));
      assert.equal(s.lastSeq(), 600);
    } finally {
      await s.close();
    }
  });
});
