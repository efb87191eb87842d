import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CorruptionError } from '../../src/errors.js';
import { openTestLsm } from '../helpers/lsm.js';
import { runKey, storeWithRuns } from '../helpers/run-rounds.js';
import { tempDir } from '../helpers/temp-dir.js';

const key = runKey;

describe('runs missing or stray in runs/', () => {
  it('refuses a store whose run between two others is missing, naming the missing file', async () => {
    const { dir } = await storeWithRuns(tempDir(after));
    const missing = join(dir, 'runs', '000003.sst');
    rmSync(missing);
    await assert.rejects(
      openTestLsm(dir, { maxRuns: 16 }),
      (err: unknown) => err instanceof CorruptionError && err.file === missing && /missing/.test(err.message),
    );
  });

  it('with repair, opens without the missing run and keeps the runs around it', async () => {
    const { dir } = await storeWithRuns(tempDir(after));
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
    const { dir } = await storeWithRuns(tempDir(after));
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
    const { dir } = await storeWithRuns(tempDir(after));
    writeFileSync(join(dir, 'runs', 'notes.txt'), 'an operator was here');
    const s = await openTestLsm(dir, { maxRuns: 16 });
    assert.equal(Buffer.from(s.get(key(1))!).toString(), 'round 4');
    await s.close();
  });
});
