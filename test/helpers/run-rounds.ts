/**
 * Stores whose data sit in runs of known content, for the tests that take runs away from under a
 * store (test/unit/missing-run.test.ts, lost-run.test.ts).
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { LsmStore } from '../../src/storage/lsm-store.js';
import { openTestLsm } from './lsm.js';

/** runKey is the i-th of the 100 keys every round writes. */
export const runKey = (i: number): Buffer => Buffer.from(`key${String(i).padStart(4, '0')}`);

/** writeRounds writes `rounds` rounds of the same 100 keys, flushing each round into a run of its own. */
export async function writeRounds(s: LsmStore, rounds: number): Promise<void> {
  for (let round = 1; round <= rounds; round++) {
    for (let i = 0; i < 100; i++) await s.put(runKey(i), Buffer.from(`round ${round}`));
    await s.flush();
  }
}

/** storeWithRuns leaves a closed store under `root` whose data are in runs 1..4 (each round's values in its own run). */
export async function storeWithRuns(root: string): Promise<{ dir: string; runs: string[] }> {
  const dir = join(root, 'node', 'shard-0');
  const s = await openTestLsm(dir, { maxRuns: 16 });
  await writeRounds(s, 4);
  await s.close();
  const runs = readdirSync(join(dir, 'runs')).sort();
  assert.deepEqual(runs, ['000001.sst', '000002.sst', '000003.sst', '000004.sst']);
  return { dir, runs };
}
