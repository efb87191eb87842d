/**
 * A compaction whose last commit LMDB never confirms durable (lmdb-js never settles the flush of a
 * commit whose sync failed: src/storage/lmdb-level.ts) neither waits for ever, holding the thread's
 * compaction gate so that no store of the worker compacts again, nor holds its store's close (a
 * node on a failing device never stopped): the wait is bounded (`confirmWaitMs`), the compaction
 * fails and keeps its runs, and a close waits for it at most a second.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import type { LsmStore } from '../../src/storage/lsm-store.js';
import { openTestLsm } from '../helpers/lsm.js';
import { tempDir } from '../helpers/temp-dir.js';

const key = (i: number): Buffer => Buffer.from(`key${String(i).padStart(6, '0')}`);

/** Unconfirmed is the part of LmdbLevel this test reaches into: its environment's `flushed`. */
interface Unconfirmed {
  level: { root: { flushed: PromiseLike<unknown> }; confirmWaitMs: number };
}

function open(dir: string, lines: string[]): Promise<LsmStore> {
  const log = pino(
    { level: 'info' },
    { write: (s: string) => lines.push((JSON.parse(s) as { msg: string }).msg) },
  );
  return openTestLsm(dir, {
    durability: 'none',
    memtableBytes: 8192,
    maxRuns: 8,
    walSegmentBytes: 64 * 1024,
    idleCompactMs: 200,
    log,
  });
}

/** filled opens a store with runs waiting for an idle compaction (in 200 ms), `unconfirmed`: LMDB never confirming. */
async function filled(lines: string[], confirmWaitMs: number): Promise<LsmStore> {
  const s = await open(tempDir(after), lines);
  const level = (s as unknown as Unconfirmed).level;
  level.root.flushed = new Promise(() => undefined);
  level.confirmWaitMs = confirmWaitMs;
  for (let i = 0; i < 200; i++) await s.put(key(i), Buffer.alloc(100, i % 251));
  await s.idle();
  assert.ok(Number(s.stats().runs) >= 2, 'the writes left runs behind');
  return s;
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('a compaction LMDB never confirms', () => {
  it('does not hold its store’s close past the bound', { timeout: 20_000 }, async () => {
    const lines: string[] = [];
    const s = await filled(lines, 1500);
    await until(() => isCompacting(s), 5000, 'the idle compaction to start');
    const t0 = performance.now();
    await s.close();
    const ms = performance.now() - t0;
    assert.ok(ms < 3000, `closed in ${Math.round(ms)} ms`);
    assert.ok(
      lines.some((m) => m.includes('a compaction still waited for LMDB')),
      `the close says why: ${JSON.stringify(lines)}`,
    );
    // The compaction fails at its own bound, and lets the thread's gate go (the next test compacts).
    await new Promise((r) => setTimeout(r, 1000));
  });

  it(
    'fails at its bound, keeps its runs and data, and lets the other stores of the thread compact',
    { timeout: 20_000 },
    async () => {
      const lines: string[] = [];
      const s = await filled(lines, 300);
      await until(
        () => lines.some((m) => m.startsWith('compaction failed')),
        10_000,
        'the compaction to fail at its bound',
      );
      assert.ok(Number(s.stats().runs) >= 2, 'its runs are kept');
      for (let i = 0; i < 200; i++) assert.equal(s.get(key(i))?.[0], i % 251, `key ${i} reads back`);
      // Another store on this thread compacts: the gate was let go.
      const other: string[] = [];
      const o = await open(tempDir(after), other);
      for (let i = 0; i < 200; i++) await o.put(key(i), Buffer.alloc(100, 7));
      await until(
        () => o.stats().runs === 0 && Number(o.stats().compactions) >= 1,
        10_000,
        "the other store's compaction",
      );
      await o.close();
      await s.close();
    },
  );
});

/** isCompacting tells whether the store's compaction runs now. */
function isCompacting(s: LsmStore): boolean {
  return (s as unknown as { compaction: { running: unknown } }).compaction.running !== undefined;
}
