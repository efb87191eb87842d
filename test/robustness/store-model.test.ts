/**
 * The randomized Store model test, long and with a fresh seed each time (printed, and in the
 * failure report): every Store engine against a Map, over many random command sequences with
 * values of every size up to the maximum. DISTKV_ROBUSTNESS=full (npm run test:robustness) runs it
 * for minutes; otherwise it is a short run. DISTKV_SEED and DISTKV_MODEL_PATH replay a failure.
 */
import { describe, it } from 'node:test';
import {
  checkModel,
  lmdbTarget,
  lsmTarget,
  memoryTarget,
  type ModelRunOptions,
  type ModelTarget,
} from '../unit/store-model-harness.js';
import { testSeed } from '../helpers/random.js';

const FULL = process.env.DISTKV_ROBUSTNESS === 'full';
const path = process.env.DISTKV_MODEL_PATH;

/** budget: runs and seconds per engine (whichever ends first). */
const budget = (runs: number, seconds: number): ModelRunOptions => ({
  seed: testSeed(),
  numRuns: FULL ? runs : Math.ceil(runs / 50),
  maxSteps: FULL ? 80 : 30,
  timeLimitMs: (FULL ? seconds : seconds / 20) * 1000,
  ...(path === undefined || path === '' ? {} : { path }),
});

function long<C>(target: ModelTarget<C>, o: ModelRunOptions): void {
  it(`${target.name} agrees with a Map after every step (seed ${o.seed})`, async (t) => {
    const tally = await checkModel(target, o);
    t.diagnostic(
      `${tally.runs} runs, ${tally.steps} steps, ${(tally.bytesWritten / 2 ** 20).toFixed(0)} MiB written, ${tally.reopens} reopens, ${tally.flushes} flushes, ${tally.compactions} compactions in ${((performance.now() - tally.startedAt) / 1000).toFixed(0)} s`,
    );
  });
}

describe(`Store model (random seeds${FULL ? ', full' : ''})`, () => {
  long(memoryTarget, budget(2000, 30));
  long(lmdbTarget, budget(1000, 60));
  long(lsmTarget, budget(1500, 150));
});
