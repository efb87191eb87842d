/**
 * The randomized Store model test, short and with a fixed seed (the long run with fresh seeds is
 * test/robustness/store-model.test.ts). DISTKV_SEED and DISTKV_MODEL_PATH replay a failure.
 */
import { describe, it } from 'node:test';
import {
  checkModel,
  lmdbTarget,
  lsmTarget,
  memoryTarget,
  type ModelRunOptions,
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

describe('Store model (fixed seed)', () => {
  it('MemoryStore agrees with a Map after every step of random sequences', async () => {
    await checkModel(memoryTarget, short(60));
  });
  it('LmdbStore agrees with a Map after every step, across reopens', async () => {
    await checkModel(lmdbTarget, short(25));
  });
  it('LsmStore agrees with a Map after every step, across flushes, compactions and reopens', async () => {
    const tally = await checkModel(lsmTarget, short(40));
    console.log(tally);
  });
});
