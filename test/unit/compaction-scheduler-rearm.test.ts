/**
 * How often the idle check of CompactionScheduler (src/storage/compaction-scheduler.ts) runs while
 * it cannot act: a store idle past idleMs whose idle flush is refused (a frozen memtable still waits
 * for its flush: a failing flush backs off for up to 30 s), or whose idle compaction is running (a
 * large one takes seconds). The check re-arms itself for `lastWriteAt + idleMs`, already past, so
 * without a bound it runs every millisecond for as long as that lasts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CompactionScheduler } from '../../src/storage/compaction-scheduler.js';

const IDLE_MS = 20;
/** WATCH_MS is how long each test watches the checks: 15 idle windows. */
const WATCH_MS = 15 * IDLE_MS;
/** MAX_CHECKS is generous: about three checks per idle window while nothing changes. */
const MAX_CHECKS = (3 * WATCH_MS) / IDLE_MS;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

describe('the idle check while it cannot act', () => {
  it('does not run every millisecond while the idle flush is refused (a frozen memtable waits for its flush)', async () => {
    let looks = 0;
    let refusedFlushes = 0;
    const scheduler = new CompactionScheduler({
      maxRuns: 4,
      idleMs: IDLE_MS,
      dir: 'twin',
      runs: () => ({ count: 0, entries: 0 }),
      memtableEmpty: () => {
        looks++;
        return false;
      },
      // LsmStore's flushIdle freezes nothing while an earlier frozen memtable is still unflushed.
      flushIdle: () => {
        refusedFlushes++;
      },
      compact: () => Promise.resolve(),
    });
    try {
      scheduler.wrote();
      scheduler.landed();
      await sleep(2 * IDLE_MS);
      const from = looks;
      await sleep(WATCH_MS);
      const checks = looks - from;
      assert.ok(
        checks <= MAX_CHECKS,
        `${String(checks)} looks at the memtable in ${String(WATCH_MS)} ms (${String(refusedFlushes)} refused idle flushes)`,
      );
    } finally {
      scheduler.close();
    }
  });

  it('does not run every millisecond while its idle compaction runs', async () => {
    let looks = 0;
    let runs = 1;
    let finish: (() => void) | undefined;
    const scheduler = new CompactionScheduler({
      maxRuns: 4,
      idleMs: IDLE_MS,
      dir: 'twin',
      runs: () => {
        looks++;
        return { count: runs, entries: 10 };
      },
      memtableEmpty: () => true,
      flushIdle: () => undefined,
      compact: () =>
        new Promise<void>((resolve) => {
          finish = () => {
            runs = 0;
            resolve();
          };
        }),
    });
    try {
      await sleep(3 * IDLE_MS);
      assert.ok(finish !== undefined, 'the idle compaction started');
      const from = looks;
      await sleep(WATCH_MS);
      const checks = looks - from;
      assert.ok(
        checks <= MAX_CHECKS,
        `${String(checks)} looks at the runs in ${String(WATCH_MS)} ms of one compaction`,
      );
    } finally {
      finish?.();
      scheduler.close();
    }
  });
});
