/**
 * CompactionScheduler's idle trigger driven directly (src/storage/compaction-scheduler.ts), over a
 * store twin whose memtable and runs the test sets: the idle check is armed when a write lands in
 * the memtable (`landed`), not when it is accepted (`wrote`), so a write that lands after the idle
 * window is still flushed, and a store that holds nothing keeps no timer (an idle node burns no CPU
 * on checks, however many writes it refused or lost before they landed).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CompactionScheduler } from '../../src/storage/compaction-scheduler.js';

/** IDLE_MS is the scheduler's idle window; the tests wait several times it. */
const IDLE_MS = 20;

/** StoreTwin is what the scheduler sees of a store, and how often it looked. */
interface StoreTwin {
  /** memtableKeys is the active memtable's key count (the test sets it as writes land). */
  memtableKeys: number;
  /** looks counts the scheduler's looks at the memtable (each idle check makes one or two). */
  looks: number;
  idleFlushes: number;
}

/** twin builds a scheduler over an empty store with no runs; its idle flush empties the memtable. */
function twin(): { store: StoreTwin; scheduler: CompactionScheduler } {
  const store: StoreTwin = { memtableKeys: 0, looks: 0, idleFlushes: 0 };
  const scheduler = new CompactionScheduler({
    maxRuns: 4,
    idleMs: IDLE_MS,
    dir: 'twin',
    runs: () => ({ count: 0, entries: 0 }),
    memtableEmpty: () => {
      store.looks++;
      return store.memtableKeys === 0;
    },
    flushIdle: () => {
      store.idleFlushes++;
      store.memtableKeys = 0;
    },
    compact: () => Promise.resolve(),
  });
  return { store, scheduler };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

describe('the compaction scheduler idle trigger', () => {
  it('flushes a write that landed after the idle window had passed since it was accepted', async () => {
    const { store: t, scheduler } = twin();
    try {
      scheduler.wrote();
      await sleep(5 * IDLE_MS);
      t.memtableKeys = 1;
      scheduler.landed();
      await sleep(5 * IDLE_MS);
      assert.equal(t.idleFlushes, 1);
    } finally {
      scheduler.close();
    }
  });

  it('keeps no timer for a store that holds nothing, whatever writes it was told of', async () => {
    const { store: t, scheduler } = twin();
    try {
      const looksAtStart = t.looks;
      for (let i = 0; i < 3; i++) scheduler.wrote();
      await sleep(10 * IDLE_MS);
      assert.equal(t.looks, looksAtStart, 'an idle check ran on an empty store');
    } finally {
      scheduler.close();
    }
  });

  it('keeps no timer once the store is flushed and idle again', async () => {
    const { store: t, scheduler } = twin();
    try {
      scheduler.wrote();
      t.memtableKeys = 1;
      scheduler.landed();
      await sleep(5 * IDLE_MS);
      assert.equal(t.idleFlushes, 1);
      const looksAfterFlush = t.looks;
      await sleep(10 * IDLE_MS);
      assert.equal(t.looks, looksAfterFlush, 'idle checks went on after the store emptied');
    } finally {
      scheduler.close();
    }
  });

  it('arms nothing for a write that lands after the store closed', async () => {
    const { store: t, scheduler } = twin();
    scheduler.close();
    scheduler.wrote();
    t.memtableKeys = 1;
    scheduler.landed();
    await sleep(5 * IDLE_MS);
    assert.equal(t.idleFlushes, 0);
  });
});
