/**
 * The randomized Store model test, short and with a fixed seed (the long run with fresh seeds is
 * test/robustness/store-model.test.ts). DISTKV_SEED and DISTKV_MODEL_PATH replay a failure.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkModel,
  lmdbTarget,
  lsmTarget,
  memoryTarget,
  type ModelRunOptions,
  type Tally,
} from './store-model-harness.js';

const SEED = Number(process.env.DISTKV_SEED ?? 20261130);
const path = process.env.DISTKV_MODEL_PATH;
const short = (numRuns: number): ModelRunOptions => ({
  seed: SEED,
  numRuns,
  maxSteps: 24,
  timeLimitMs: 60_000,
  ...(path === undefined || path === '' ? {} : { path }),
});
const summary = (t: Tally): string =>
  `${t.runs} runs, ${t.steps} steps, ${(t.bytesWritten / 2 ** 20).toFixed(0)} MiB written, ${t.reopens} reopens, ${t.flushes} flushes, ${t.compactions} compactions (seed ${SEED})`;

describe('Store model (fixed seed)', () => {
  it('MemoryStore agrees with a Map after every step of random sequences', async (t) => {
    t.diagnostic(summary(await checkModel(memoryTarget, short(60))));
  });

  it('LmdbStore agrees with a Map after every step, across reopens', async (t) => {
    t.diagnostic(summary(await checkModel(lmdbTarget, short(25))));
  });

  it('LsmStore agrees with a Map after every step, across flushes, compactions and reopens', async (t) => {
    const tally = await checkModel(lsmTarget, short(40));
    t.diagnostic(summary(tally));
    assert.ok(
      tally.flushes > 0 && tally.compactions > 0 && tally.reopens > 0,
      'the sequences exercise the LSM',
    );
  });
});
