/**
 * Linearizability through kill -9 and restart in place, with no failover, in the lossy durability
 * modes (`interval`, `none`): the scenario of lin-crash-restart.test.ts (one process serving the
 * default layout, 10 loops on 4 hot keys, kills each after 400 more operations, clients that wait
 * out each restart): 2 kills in `interval` mode, 1 in `none`.
 *
 * What those modes promise (docs/architecture.md, "Storage"; docs/commit-log-format.md, "Modes";
 * docs/failover.md, "A leader restarting after a crash"): a write is acknowledged, and shown to
 * readers and replicas, once its batch is written to the commit log, before its fsync; a crash
 * takes what was not on disk yet: a power cut what was written after the last sync, a kill -9 only
 * what was still in the process. No write is acknowledged or read while still in the process
 * (store-reads.ts waits for a write in flight to settle, and a batch settles after its append), so
 * a kill -9 takes nothing anyone was told of or saw, and the plain checker (no failover op) must
 * pass. What the modes do owe a crash: the restart, finding its `RUNNING` marker of a lossy mode,
 * starts a new epoch per shard at its recovered last seq + 1 (the fork, as a failover's); the test
 * waits for it after each restart and checks that every version answered before the kill is at or
 * below that fork, i.e. the recovered seq covers everything anyone saw. DISTKV_SEED replays the
 * operations' choices (not the timing).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Durability } from '../../src/config/schema.js';
import { waitFor } from '../helpers/failover-model.js';
import { CrashingNode, expectCrashLinearizable, runCrashLoad } from '../helpers/lin-crash.js';
import { forkOf } from '../helpers/lin-fault-load.js';
import { versionOf } from '../helpers/lin-load.js';
import { compareVersions } from '../helpers/linearizability.js';
import { testSeed } from '../helpers/random.js';

const KEYS = ['lin-a', 'lin-b', 'lin-c', 'lin-d'];
const LOOPS = 10;
const OPS_BETWEEN = 400;
/** KILLS per mode: a lossy restart takes about 2.5 s (its replicas' turns to the new epoch), which keeps the file short: `none`, the same path, gets one. */
const MODES: { mode: Durability; kills: number }[] = [
  { mode: 'interval', kills: 2 },
  { mode: 'none', kills: 1 },
];

for (const { mode, kills: KILLS } of MODES) {
  describe(`linearizability through kill -9 and restart in ${mode} mode`, { timeout: 120_000 }, () => {
    let node: CrashingNode | undefined;
    before(async () => {
      node = await CrashingNode.start(mode);
    });
    after(async () => {
      await node?.stop();
    });

    it('loses no write anyone was told of or saw, and each restart starts an epoch above every version seen', async (t) => {
      const seed = testSeed();
      // forks[k][shard]: the fork of the epoch restart k started ('E.F': F the recovered last seq).
      const forks: string[][] = [];
      const afterRestart = async (k: number): Promise<void> => {
        await waitFor(`restart ${k + 1} to start an epoch in every shard`, async () => {
          const map = await node!.map();
          const started = map.shards.every(
            (s) => s.history.filter((h) => h.restart === true).length === k + 1,
          );
          if (started) forks.push(map.shards.map(forkOf));
          return started;
        });
      };
      const run = await runCrashLoad(node!, {
        seed,
        keys: KEYS,
        loops: LOOPS,
        kills: KILLS,
        opsBetween: OPS_BETWEEN,
        afterRestart,
      });
      expectCrashLinearizable(t, run, seed, OPS_BETWEEN * (KILLS + 1), `forks ${JSON.stringify(forks)}; `);
      for (const [k, kill] of run.kills.entries()) {
        const above = run.load.recorder.ops.filter((op) => {
          const v = versionOf(op.output);
          const fork = forks[k]![run.shardOf.get(op.key)!]!;
          return op.ret < kill.killedAt && v !== undefined && compareVersions(v, fork) > 0;
        });
        assert.equal(
          above.length,
          0,
          `answers before kill ${k + 1} named versions above its restart's fork ${JSON.stringify(forks[k])}: ${JSON.stringify(above.slice(0, 5))}`,
        );
      }
    });
  });
}
