/**
 * Two live processes that run as the same node (docs/failover.md, "Automatic failover with etcd"):
 * a process that restarts takes its node's leader key over from its earlier lease at once, since
 * the earlier process is gone (it held the data directory's lock and the port). Two processes
 * can still run as one node: `--listen` binds another port, and another data directory has
 * another lock. Before, each took the key back from the other at every reconcile and both kept
 * taking writes for the shard in the same epoch, each believing it led. The one that held the key
 * first must stand down, and must not take it back while the other's lease lives.
 * Skipped only when no etcd binary exists.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { oneShardConfig, testCoordinator } from '../helpers/coordinator.js';
import { etcdMissing, TestEtcd } from '../helpers/etcd.js';
import { waitFor } from '../helpers/failover-model.js';

const TTL_MS = 1000;
const TICK_MS = TTL_MS / 4;
/** STAND_DOWN_MS bounds the first process's standing down (its next reconcile; generous for a loaded machine). */
const STAND_DOWN_MS = 5 * TTL_MS;
const L = '127.0.0.1:7201';
const R = '127.0.0.1:7202';
const CLUSTER = 'twins';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('two processes running as one node', { timeout: 60000, skip: etcdMissing() }, () => {
  let etcd: TestEtcd;
  before(async () => {
    etcd = await TestEtcd.start();
  });
  after(async () => {
    await etcd.stop();
  });

  it('never both take writes as the leader: the first stands down when the second takes its key', async () => {
    const config = oneShardConfig(etcd.url, CLUSTER, TTL_MS, L, [R]);
    /** process is one process's coordinator over a fake worker pool hosting L's leader store. */
    const process = () => testCoordinator(config, CLUSTER, { role: 'leader', node: L, lastSeq: () => 5 });
    const first = process();
    const second = process();
    try {
      await first.start();
      assert.equal(first.mayWrite(0), true, 'the first process leads');
      await second.start();
      // The first stands down at its next reconcile, once etcd answers its read: waited for, since
      // 'at most 1 of 20 looks 125 ms apart' failed a correct first whenever that answer came 300 ms
      // late (a loaded machine). Taking the key back at every reconcile still fails, here or below.
      await waitFor(
        'the first process to stand down',
        () => Promise.resolve(!first.mayWrite(0)),
        STAND_DOWN_MS,
      );
      let both = 0;
      let neither = 0;
      for (let i = 0; i < 20; i++) {
        await sleep(TICK_MS / 2);
        if (first.mayWrite(0) && second.mayWrite(0)) both++;
        if (!first.mayWrite(0) && !second.mayWrite(0)) neither++;
      }
      assert.equal(both, 0, `both processes took writes as the leader in ${both} of 20 looks`);
      assert.equal(second.mayWrite(0), true, 'the process that took the key over leads');
      assert.equal(neither, 0, 'the shard had no leader while one process held the key');
    } finally {
      await second.stop();
      await first.stop();
    }
  });
});
