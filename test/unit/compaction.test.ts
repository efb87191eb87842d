import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import type { DistkvError } from '../../src/errors.js';
import { Backoff } from '../../src/storage/backoff.js';
import { CompactionScheduler, READ_AMP_MIN } from '../../src/storage/compaction-scheduler.js';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import { openLsmStore } from '../../src/storage/lsm-recovery.js';
import type { LsmOptions } from '../../src/storage/lsm-options.js';
import type { LsmStore } from '../../src/storage/lsm-store.js';
import type { LmdbLevel } from '../../src/storage/lmdb-level.js';
import { compactRuns } from '../../src/storage/lsm-compaction.js';
import type { RunReader } from '../../src/storage/sstable-reader.js';
import { RealVfs } from '../../src/storage/real-vfs.js';
import { tempDir } from '../helpers/temp-dir.js';

const b = (s: string): Buffer => Buffer.from(s);
const key = (i: number): Buffer => b(`key${String(i).padStart(6, '0')}`);

interface LogLine {
  level: number;
  msg: string;
}

/** capture returns a pino logger whose lines land in `lines`. */
function capture(lines: LogLine[]): NonNullable<LsmOptions['log']> {
  return pino(
    { level: 'info' },
    {
      write: (s: string) => {
        lines.push(JSON.parse(s) as LogLine);
      },
    },
  );
}

function open(dir: string, o: Partial<LsmOptions>): Promise<LsmStore> {
  return openLsmStore({
    dir,
    vfs: new RealVfs(),
    durability: 'none',
    fsyncIntervalMs: 20,
    memtableBytes: 8192,
    maxRuns: 8,
    walSegmentBytes: 64 * 1024,
    walRetentionBytes: 0,
    blockCacheBytes: 1 << 20,
    ringBytes: 1 << 20,
    repair: false,
    idleCompactMs: 1e9,
    ...o,
  });
}

/** waitFor polls `cond` every 20 ms until it holds or `ms` pass (then fails with `what`). */
async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** fill writes `n` keys of 100-byte values and waits for the flushes. */
async function fill(s: LsmStore, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await s.put(key(i), Buffer.alloc(100, i % 251));
  await s.idle();
}

describe('compaction triggers', () => {
  it('flushes the memtable and compacts runs into LMDB once the store has been idle', async () => {
    const s = await open(tempDir(after), { idleCompactMs: 200 });
    await fill(s, 200);
    let n = 200;
    // What the store holds before it goes idle is read only while no compaction has run: on a
    // loaded machine a put, or the wait for the flushes, can outlast the 200 ms idle window (a put
    // took 321 ms beside six busy threads), and the idle compaction has then merged the runs. (One
    // more key written into the store it emptied was then never flushed: idle-flush-lone-write.test.ts.)
    if (s.stats().compactions === 0) {
      // The 200th write may have just filled a memtable (where depends on ENTRY_OVERHEAD): one more then.
      if (s.stats().memtableKeys === 0) await s.put(key(n), Buffer.alloc(100, n++ % 251));
      assert.ok(Number(s.stats().runs) >= 2, 'the writes left runs behind');
      assert.ok(
        Number(s.stats().runs) <= 8,
        'fewer runs than max_runs: the run count alone would not compact',
      );
      assert.ok(Number(s.stats().memtableKeys) > 0, 'and a memtable');
    }
    await waitFor(
      () => s.stats().runs === 0 && s.stats().memtableKeys === 0 && s.stats().frozenMemtables === 0,
      10_000,
      'the idle flush and compaction',
    );
    const st = s.stats();
    assert.ok(Number(st.compactionsForIdle) >= 1);
    assert.equal(
      Number(st.compactionsForRuns) + Number(st.compactionsForReads),
      0,
      'none for the run count or reads',
    );
    assert.equal(st.lmdbKeys, n, 'every key is in LMDB');
    for (let i = 0; i < n; i++) assert.equal(s.get(key(i))?.[0], i % 251, `key ${i} survives`);
    await s.close();
  });

  it('does not compact while writes keep arriving within the idle window', async () => {
    const s = await open(tempDir(after), { idleCompactMs: 60_000 });
    await fill(s, 200);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(Number(s.stats().runs) >= 2);
    assert.equal(s.stats().compactions, 0);
    await s.close();
  });

  it('compacts runs that too many reads pass through (read amplification)', async () => {
    const s = await open(tempDir(after), {});
    await fill(s, 200);
    const runs = Number(s.stats().runs);
    assert.ok(runs >= 2);
    // Absent keys pass through every run; READ_AMP_MIN passes are the smallest budget.
    for (let i = 0; i < Math.ceil(READ_AMP_MIN / runs) + 1; i++) s.get(b(`absent${i}`));
    await waitFor(() => s.stats().runs === 0, 10_000, 'the read-triggered compaction');
    assert.equal(s.stats().compactionsForReads, 1);
    for (let i = 0; i < 200; i++) assert.equal(s.get(key(i))?.[0], i % 251);
    await s.close();
  });

  it('runs the compactions of the stores on one thread one after another', async () => {
    let active = 0;
    let maxActive = 0;
    const done: number[] = [];
    const schedulers = [1, 2, 3].map((id) => {
      let runs = 5;
      return new CompactionScheduler({
        maxRuns: 1,
        idleMs: 1e9,
        dir: `store-${id}`,
        runs: () => ({ count: runs, entries: 100 }),
        memtableEmpty: () => true,
        flushIdle: () => undefined,
        compact: async () => {
          active++;
          maxActive = Math.max(maxActive, active);
          await new Promise((r) => setTimeout(r, 30));
          active--;
          runs = 0;
          done.push(id);
        },
      });
    });
    await waitFor(() => done.length === 3, 10_000, 'three compactions');
    assert.equal(maxActive, 1, 'never two at once');
    for (const s of schedulers) s.close();
  });

  it('leaves runs alone under few reads', async () => {
    const s = await open(tempDir(after), {});
    await fill(s, 200);
    for (let i = 0; i < 100; i++) s.get(key(i));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(s.stats().compactions, 0);
    await s.close();
  });
});

describe('failed compactions and flushes back off', () => {
  it('doubles the delay from the minimum up to the cap and resets on success', () => {
    const bo = new Backoff(100, 1000);
    assert.equal(bo.delayMs(), 0);
    const logs = [1, 2, 3, 4, 5, 6].map(() => bo.failed(new Error('x')));
    assert.deepEqual(logs, [true, false, false, false, false, false], 'only the first failure is logged');
    assert.equal(bo.delayMs(), 1000, 'capped');
    const fresh = new Backoff(100, 1000);
    fresh.failed(new Error('x'));
    assert.equal(fresh.delayMs(), 100);
    fresh.failed(new Error('x'));
    assert.equal(fresh.delayMs(), 200);
    assert.equal(fresh.succeeded(), true, 'the success that ends failures is logged');
    assert.equal(fresh.succeeded(), false);
    assert.equal(fresh.delayMs(), 0);
  });

  it('retries a failing compaction with growing delays, logs once when it fails and once when it recovers', async () => {
    const vfs = new FaultyVfs();
    const lines: LogLine[] = [];
    const dir = tempDir(after);
    const s = await open(dir, {
      vfs,
      memtableBytes: 4096,
      maxRuns: 1,
      log: capture(lines),
      retryMinMs: 50,
      retryMaxMs: 400,
    });
    // One run of the first keys, then damage one of its data blocks so merging it fails.
    for (let i = 0; i < 25; i++) await s.put(key(i), Buffer.alloc(100, 1));
    await s.idle();
    const [oldest, ...others] = vfs.list(`${dir}/runs`);
    assert.ok(oldest !== undefined && others.length === 0, 'exactly one run');
    vfs.corrupt(`${dir}/runs/${oldest}`, 20);
    for (let i = 25; i < 60; i++) await s.put(key(i), Buffer.alloc(100, 2));
    await waitFor(() => Number(s.stats().compactionFailures) >= 1, 10_000, 'a failed compaction');
    await new Promise((r) => setTimeout(r, 1500));
    const failures = Number(s.stats().compactionFailures);
    // Delays 50, 100, 200, 400, 400, ... ms: at most about 6 attempts in 1.5 s (a 10 ms retry loop makes 150).
    assert.ok(failures >= 2 && failures <= 8, `compaction attempts in 1.5 s: ${failures}`);
    const errors = lines.filter((l) => l.level >= 50);
    assert.equal(errors.length, 1, `one error line, not one per attempt: ${JSON.stringify(errors)}`);
    vfs.corrupt(`${dir}/runs/${oldest}`, 20); // flips the byte back: the run is whole again
    await waitFor(() => s.stats().runs === 0 || Number(s.stats().compactions) > 0, 10_000, 'recovery');
    assert.equal(lines.filter((l) => l.msg.startsWith('compaction succeeded again, after ')).length, 1);
    assert.equal(lines.filter((l) => l.level >= 50).length, 1);
    for (let i = 25; i < 60; i++) assert.equal(s.get(key(i))?.[0], 2);
    await s.close();
  });

  it('retries a failing flush with backoff and logs the failure and the recovery once each', async () => {
    const vfs = new FaultyVfs();
    const lines: LogLine[] = [];
    const s = await open(tempDir(after), { vfs, log: capture(lines), retryMinMs: 20, retryMaxMs: 100 });
    vfs.failSyncs(4);
    for (let i = 0; i < 60; i++) await s.put(key(i), Buffer.alloc(100, 3));
    await waitFor(() => Number(s.stats().flushes) >= 1, 10_000, 'a flush after the failures');
    await s.idle();
    assert.ok(Number(s.stats().flushFailures) >= 1);
    assert.equal(lines.filter((l) => l.level >= 50).length, 1, JSON.stringify(lines));
    assert.equal(lines.filter((l) => l.msg === 'memtable flush succeeded again').length, 1);
    for (let i = 0; i < 60; i++) assert.equal(s.get(key(i))?.[0], 3);
    await s.close();
  });
});

describe('flushes held back by failing compactions', () => {
  it(
    'stops adding runs while compactions keep failing on a damaged run, refuses writes with CORRUPTION (not DISK_FULL), resumes once one succeeds',
    {
      timeout: 30_000,
    },
    async () => {
      const vfs = new FaultyVfs();
      const dir = tempDir(after);
      const s = await open(dir, { vfs, memtableBytes: 4096, maxRuns: 2, retryMinMs: 20, retryMaxMs: 100 });
      for (let i = 0; i < 25; i++) await s.put(key(i), Buffer.alloc(100, 1));
      await s.idle();
      const [oldest, ...others] = vfs.list(`${dir}/runs`);
      assert.ok(oldest !== undefined && others.length === 0, 'exactly one run');
      vfs.corrupt(`${dir}/runs/${oldest}`, 20); // every compaction now fails merging it
      let refused: DistkvError | undefined;
      let acked = 25;
      for (; acked < 1000 && refused === undefined; acked++)
        await s.put(key(acked), Buffer.alloc(100, 2)).catch((err: unknown) => {
          refused = err as DistkvError;
        });
      acked--;
      assert.ok(refused !== undefined, `writes went on: ${String(s.stats().runs)} runs`);
      // A damaged run: no retry mends it, and the disk is not full (it said DISK_FULL, 507).
      assert.equal(refused.code, 'CORRUPTION');
      assert.match(refused.message, /compaction into LMDB is failing/);
      assert.match(refused.message, /--repair/);
      assert.equal(s.writeRefusal()?.code, 'CORRUPTION', 'what /cluster shows');
      assert.ok(Number(s.stats().compactionFailures) >= 1);
      assert.equal(s.stats().runs, 4, 'runs stop at 2 × max_runs');
      vfs.corrupt(`${dir}/runs/${oldest}`, 20); // the run is whole again: the next attempt succeeds
      await waitFor(() => Number(s.stats().compactions) >= 1, 10_000, 'a compaction after the failures');
      assert.equal(s.writeRefusal(), undefined);
      for (let i = 1000; i < 1100; i++) await s.put(key(i), Buffer.alloc(100, 3));
      for (let i = 25; i < acked; i++) assert.equal(s.get(key(i))?.[0], 2, `key ${i}`);
      for (let i = 1000; i < 1100; i++) assert.equal(s.get(key(i))?.[0], 3);
      await s.close();
    },
  );
});

describe('compacting many runs', () => {
  it('records the newest seq of 300000 inputs as applied_seq (no argument spread that overflows the stack)', async () => {
    const empty = (maxSeq: number): RunReader =>
      ({ footer: { maxSeq }, entries: () => [][Symbol.iterator]() }) as unknown as RunReader;
    const inputs = Array.from({ length: 300_000 }, (_, i) => empty(i === 1234 ? 999_999 : i));
    const applied: (number | undefined)[] = [];
    const level = {
      apply: (_chunk: unknown, seq?: number) => {
        applied.push(seq);
        return Promise.resolve();
      },
    } as unknown as LmdbLevel;
    await compactRuns(level, inputs);
    assert.deepEqual(applied, [999_999]);
  });
});

describe('retiring compacted runs', () => {
  it('closes every compacted run and leaves the undeletable ones for the next open when an unlink fails', async () => {
    const vfs = new FaultyVfs();
    const lines: LogLine[] = [];
    const dir = tempDir(after);
    const s = await open(dir, { vfs, memtableBytes: 4096, maxRuns: 2, log: capture(lines) });
    vfs.failUnlinks(1);
    await fill(s, 120);
    const attempts = (): number => Number(s.stats().compactions) + Number(s.stats().compactionFailures);
    await waitFor(() => attempts() >= 1, 10_000, 'a compaction');
    await s.idle();
    assert.equal(vfs.openReads, Number(s.stats().runs), 'only the live runs hold a handle');
    assert.equal(s.stats().retireFailures, 1, 'the failed unlink is counted');
    assert.equal(s.stats().compactionFailures, 0, 'the compaction itself succeeded');
    assert.equal(lines.filter((l) => l.level === 40).length, 1, JSON.stringify(lines));
    const leftover = vfs.list(`${dir}/runs`).length - Number(s.stats().runs);
    assert.equal(leftover, 1, 'the run that could not be deleted is still there');
    await s.close();
    assert.equal(vfs.openReads, 0, 'every run handle is closed');
    const again = await open(dir, { vfs, memtableBytes: 4096, maxRuns: 2 });
    assert.equal(vfs.list(`${dir}/runs`).length, Number(again.stats().runs), 'the next open deleted it');
    for (let i = 0; i < 120; i++) assert.equal(again.get(key(i))?.[0], i % 251);
    await again.close();
  });
});
