import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CorruptionError } from '../../src/errors.js';
import type { LsmStore } from '../../src/storage/lsm-store.js';
import { openTestLsm } from '../helpers/lsm.js';
import { tempDir } from '../helpers/temp-dir.js';

const key = (i: number): Buffer => Buffer.from(`key${String(i).padStart(4, '0')}`);

/** writeRounds writes `rounds` rounds of the same 100 keys, flushing each round into a run of its own. */
async function writeRounds(s: LsmStore, rounds: number): Promise<void> {
  for (let round = 1; round <= rounds; round++) {
    for (let i = 0; i < 100; i++) await s.put(key(i), Buffer.from(`round ${round}`));
    await s.flush();
  }
}

/** storeWithRuns leaves a closed store whose data are in runs 1..4 (each round's values in its own run). */
async function storeWithRuns(): Promise<{ dir: string; runs: string[] }> {
  const dir = join(tempDir(after), 'node', 'shard-0');
  const s = await openTestLsm(dir, { maxRuns: 16 });
  await writeRounds(s, 4);
  await s.close();
  const runs = readdirSync(join(dir, 'runs')).sort();
  assert.deepEqual(runs, ['000001.sst', '000002.sst', '000003.sst', '000004.sst']);
  return { dir, runs };
}

describe('runs missing or stray in runs/', () => {
  it('refuses a store whose run between two others is missing, naming the missing file', async () => {
    const { dir } = await storeWithRuns();
    const missing = join(dir, 'runs', '000003.sst');
    rmSync(missing);
    await assert.rejects(
      openTestLsm(dir, { maxRuns: 16 }),
      (err: unknown) => err instanceof CorruptionError && err.file === missing && /missing/.test(err.message),
    );
  });

  it('with repair, opens without the missing run and keeps the runs around it', async () => {
    const { dir } = await storeWithRuns();
    rmSync(join(dir, 'runs', '000003.sst'));
    const s = await openTestLsm(dir, { maxRuns: 16, repair: true });
    try {
      assert.equal(Buffer.from(s.get(key(7))!).toString(), 'round 4');
      await s.put(key(7), Buffer.from('after repair'));
      assert.equal(Buffer.from(s.get(key(7))!).toString(), 'after repair');
    } finally {
      await s.close();
    }
    const again = await openTestLsm(dir, { maxRuns: 16 });
    assert.equal(Buffer.from(again.get(key(7))!).toString(), 'after repair');
    await again.close();
  });

  it('opens past a run that an earlier repair moved aside as .corrupt', async () => {
    const { dir } = await storeWithRuns();
    const run = join(dir, 'runs', '000002.sst');
    writeFileSync(run, Buffer.from('not a run'));
    await assert.rejects(openTestLsm(dir, { maxRuns: 16 }), CorruptionError);
    await (await openTestLsm(dir, { maxRuns: 16, repair: true })).close();
    assert.ok(existsSync(`${run}.corrupt`));
    const s = await openTestLsm(dir, { maxRuns: 16 });
    assert.equal(Buffer.from(s.get(key(1))!).toString(), 'round 4');
    await s.close();
  });

  it('ignores a stray file that is not a run name', async () => {
    const { dir } = await storeWithRuns();
    writeFileSync(join(dir, 'runs', 'notes.txt'), 'an operator was here');
    const s = await openTestLsm(dir, { maxRuns: 16 });
    assert.equal(Buffer.from(s.get(key(1))!).toString(), 'round 4');
    await s.close();
  });
});
