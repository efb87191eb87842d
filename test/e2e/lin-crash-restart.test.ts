/**
 * Linearizability through kill -9 and restart in place, with no failover, in `fsync` mode (the
 * default): one process serves the default layout (4 shards, each leader with its replicas in the
 * same process); 10 concurrent loops (half sharing one client, half with their own) run lin-load.ts's
 * random gets, puts, compare-and-sets, create-only puts and deletes (some with `w: 1`) on 4 hot keys
 * of different shards, while the process is killed with SIGKILL 3 times, each after 400 more
 * operations, and started again on the same data directory and ports. The clients wait out each
 * restart (`refusedWaitMs`, STARTING), so the loops go on across it.
 *
 * What it checks: in `fsync` mode a write is acknowledged, and shown to any reader, only after its
 * fdatasync (docs/architecture.md, "Storage"; docs/failover.md, "A leader restarting after a
 * crash"), so a crash takes nothing anyone was told or saw: the whole history, across the kills, is
 * linearizable with the plain checker (test/helpers/linearizability.ts, no failover op), a write in
 * flight at a kill being 'unknown' (applied or not). And no restart started an epoch (only a lossy
 * mode's unclean stop does). Not trivial: reads that found values and acknowledged writes after
 * each restart. DISTKV_SEED replays the operations' choices (not the timing).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CrashingNode, expectCrashLinearizable, runCrashLoad } from '../helpers/lin-crash.js';
import { testSeed } from '../helpers/random.js';

const KEYS = ['lin-a', 'lin-b', 'lin-c', 'lin-d'];
const LOOPS = 10;
const KILLS = 3;
const OPS_BETWEEN = 400;

describe('linearizability through kill -9 and restart in fsync mode', { timeout: 120_000 }, () => {
  let node: CrashingNode | undefined;
  before(async () => {
    node = await CrashingNode.start('fsync');
  });
  after(async () => {
    await node?.stop();
  });

  it('loses no write anyone was told of or saw: the plain checker passes across the kills', async (t) => {
    const seed = testSeed();
    const run = await runCrashLoad(node!, {
      seed,
      keys: KEYS,
      loops: LOOPS,
      kills: KILLS,
      opsBetween: OPS_BETWEEN,
    });
    expectCrashLinearizable(t, run, seed, OPS_BETWEEN * (KILLS + 1));
    const restarts = (await node!.map()).shards.flatMap((s) => s.history.filter((h) => h.restart === true));
    assert.deepEqual(restarts, [], 'no restart in fsync mode starts an epoch');
  });
});
