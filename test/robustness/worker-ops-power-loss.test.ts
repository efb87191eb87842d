/**
 * Every kind of key op through power cuts at the worker, against a model
 * (test/helpers/worker-crash-model.ts): PUT, DELETE, TTLs, If-Match / If-None-Match writes,
 * transactions, INCR, APPEND, SET NX/XX GET with an expiry or KEEPTTL, GETEX, EXPIRE NX/XX/GT/LT,
 * PERSIST, GET. npm test runs 30 rounds; DISTKV_ROBUSTNESS=full 200. DISTKV_SEED replays a failure.
 */
import { after, describe, it } from 'node:test';
import { testSeed } from '../helpers/random.js';
import { tempDir } from '../helpers/temp-dir.js';
import { runWorkerPowerLoss } from '../helpers/worker-crash-model.js';

const FULL = process.env.DISTKV_ROBUSTNESS === 'full';
const ROUNDS = FULL ? 200 : 30;

describe('worker ops through a power cut (model)', () => {
  it(`keeps every answered op of every kind through ${ROUNDS} power cuts: values, versions, expiries, whole transactions`, async (t) => {
    const seed = testSeed();
    const r = await runWorkerPowerLoss(tempDir(after), { seed, rounds: ROUNDS, batches: 10 });
    t.diagnostic(
      `seed ${seed}: ${r.ops} ops, ${r.acked} acknowledged writes, in flight at the cut: ${r.inFlightKept} kept, ${r.inFlightLost} lost; the replica, caught up, held ${r.replicaKeys} keys over the cuts; ${r.refused} writes refused by a failed fdatasync`,
    );
  });
});
