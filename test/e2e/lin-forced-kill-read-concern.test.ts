/**
 * Reads with a read concern through a forced failover after kill -9 of the leader (docs/api.md,
 * "Write concern and what reads see"): lin-forced-kill.test.ts's trio and load, but every read is
 * sent with `w: 1`. Such a read is answered only once a replica holds everything the leader had
 * when it read the key, so, unlike a plain read, it never shows a write the failover undoes. To
 * make sure there are such writes, both replicas are stopped for a while before the kill (as in
 * lin-forced-kill's first case): the leader applies the writes of that window, which time out
 * (outcome unknown) and are lost at the failover, and a plain read would show them.
 *
 * What it checks: the history is linearizable with the failover op, whose allowance for answers
 * that saw a lost write (test/helpers/linearizability.ts) no longer covers these reads: a
 * `replicated` read is never placed between the first lost write and the failover. It covers the
 * 412s only, whose current versions may still name a write no replica holds (writes' answers are
 * unchanged). And no read found a version above the fork. On the old code every read was refused
 * (400, `w` unknown to GET); with the old client too (which dropped `w` from a read) the reads of
 * the window saw the writes then lost, and the checker refused the history. DISTKV_SEED replays
 * the operations' choices (not the timing).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DistkvClient } from '../../src/client/client.js';
import { waitFor } from '../helpers/failover-model.js';
import { runForcedKill } from '../helpers/forced-kill-load.js';
import type { HistoryRecorder } from '../helpers/history-recorder.js';
import { expectLinearizable, readsAboveFork } from '../helpers/lin-fault-load.js';
import { testSeed } from '../helpers/random.js';
import { Trio } from '../helpers/trio.js';

const KEYS = ['lr-a', 'lr-b', 'lr-c', 'lr-d'];
/** WINDOW_UNKNOWN is how many writes called while the replicas are stopped must have timed out before the kill. */
const WINDOW_UNKNOWN = 6;

/** unknownSince counts the writes called after `since` whose outcome is unknown (not acknowledged by a replica). */
function unknownSince(recorder: HistoryRecorder, since: number): number {
  return recorder.ops.filter((op) => op.call >= since && op.output.kind === 'unknown').length;
}

describe('reads with w=1 through a forced failover after kill -9 of the leader', { timeout: 150000 }, () => {
  let trio: Trio;
  const clients: DistkvClient[] = [];

  before(async () => {
    trio = await Trio.start('lin-forced-kill-rc');
    await trio.cluster.following();
  });

  after(async () => {
    for (const c of clients) await c.close();
    await trio.stop();
  });

  it('never show a write the failover loses: linearizable without the allowance for reads', async () => {
    const seed = testSeed();
    const run = await runForcedKill(trio, clients, {
      seed,
      keys: KEYS,
      read: { w: 1, timeoutMs: 3000 },
      beforeKill: async (load, others) => {
        const stoppedAt = performance.now();
        for (const o of others) await trio.cluster.stopNode(o);
        await waitFor(
          `${WINDOW_UNKNOWN} writes no replica holds`,
          () => Promise.resolve(unknownSince(load.recorder, stoppedAt) >= WINDOW_UNKNOWN),
          40_000,
        );
      },
      afterKill: async (others) => {
        for (const o of others) await trio.cluster.startNode(o);
      },
    });
    const ops = run.load.recorder.ops;
    assert.ok(
      ops.every((op) => op.input.kind !== 'get' || op.input.replicated === true),
      'every read was sent with w=1',
    );
    expectLinearizable(run.load, run.failover, { seed, fork: run.fork, since: run.promotedAt, after: 600 });
    assert.equal(readsAboveFork(ops, run.fork), 0, 'no read saw a version above the fork');
  });
});
