/**
 * Every kind of key op through power cuts at the worker, a few seeded rounds (the model and what it
 * checks: test/helpers/worker-crash-model.ts; test/robustness/worker-ops-power-loss.test.ts runs
 * many more). DISTKV_SEED replays a failure.
 */
import { after, describe, it } from 'node:test';
import { testSeed } from '../helpers/random.js';
import { tempDir } from '../helpers/temp-dir.js';
import { runWorkerPowerLoss } from '../helpers/worker-crash-model.js';

describe('worker ops through a power cut (model, short)', () => {
  it('keeps every answered op of every kind, values, versions and expiries, and no part of a transaction', async (t) => {
    const seed = testSeed();
    const r = await runWorkerPowerLoss(tempDir(after), { seed, rounds: 8, batches: 6 });
    t.diagnostic(
      `seed ${seed}: ${r.ops} ops, ${r.acked} acknowledged writes, in flight at the cut: ${r.inFlightKept} kept, ${r.inFlightLost} lost; the replica, caught up, held ${r.replicaKeys} keys over the cuts; ${r.refused} writes refused by a failed fdatasync`,
    );
  });
});
