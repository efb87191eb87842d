/**
 * A member whose lease lapsed a moment ago is not yet counted as gone (docs/failover.md, "Only the
 * most advanced live replica may win"). A replica paused or starved past its lease TTL (SIGSTOP, a
 * loaded machine, a long GC) loses its lease and, with it, the seq it published: a campaign that
 * ranked only the seqs etcd shows would let a replica behind it win while it holds acknowledged
 * `w=1` writes the winner lacks, and those writes would end in its divergence file. A fresh-clone
 * CI run under load lost one so (test/e2e/failover-partition.test.ts, both replicas paused around
 * the cut).
 *
 * Here the leader stops (its lease revoked) while replica R1, holding seq 10, has its lease lapse
 * at the same moment and publishes 10 again under a new lease a TTL later, as a member resumed
 * after a pause does; replica R2, a real EtcdCoordinator over a fake worker pool, holds 9. R2 must
 * not take the shard. And if R1 stays away, R2 takes it once R1 has been gone for
 * LAPSED_GRACE_TTLS TTLs: a member that is down delays a failover, it does not stop it.
 * Skipped only when no etcd binary exists.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Etcd3 } from 'etcd3';
import { LAPSED_GRACE_TTLS } from '../../src/coordination/campaign-gate.js';
import { EtcdKeyspace } from '../../src/coordination/etcd-keyspace.js';
import { oneShardConfig, testCoordinator } from '../helpers/coordinator.js';
import { etcdMissing, TestEtcd } from '../helpers/etcd.js';

const TTL_MS = 1000;
const TICK_MS = TTL_MS / 4;
const L = '127.0.0.1:7001';
const R1 = '127.0.0.1:7002';
const R2 = '127.0.0.1:7003';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe(
  'a campaign while another member’s lease has just lapsed',
  { timeout: 60000, skip: etcdMissing() },
  () => {
    let etcd: TestEtcd;
    before(async () => {
      etcd = await TestEtcd.start();
    });
    after(async () => {
      await etcd.stop();
    });

    /**
     * run starts R2 (seq 9) beside a leader and R1 (seq 10) as etcd sees them, lets the leader's and
     * R1's leases go at once, calls `meanwhile` and answers the shard's leader once `done` holds for
     * it, or `waitMs` later.
     */
    async function run(
      cluster: string,
      meanwhile: (put: (seq: string) => Promise<void>) => Promise<void>,
      waitMs: number,
      done: (leader: string) => boolean = () => false,
    ): Promise<{ leader: string; epoch: number }> {
      const config = oneShardConfig(etcd.url, cluster, TTL_MS, L, [R1, R2]);
      const client = new Etcd3({ hosts: etcd.url });
      const keys = new EtcdKeyspace(client, cluster, config.shards);
      // Revoked by the test: a 1 s lease (the least) lapsed if the test process stalled for a second.
      const leaderLease = client.lease(30);
      await leaderLease.put(keys.leaderKey('shard-0')).value(L);
      await leaderLease.put(keys.seqKey('shard-0', L)).value('10');
      const r1Lease = client.lease(30);
      await r1Lease.put(keys.seqKey('shard-0', R1)).value('10');
      const r1Again = client.lease(30);
      const coordinator = testCoordinator(config, cluster, { role: 'replica', node: R2, lastSeq: () => 9 });
      try {
        await coordinator.start();
        // R2's lease older than a TTL, and R1's seq seen by it at its ticks.
        await sleep(TTL_MS + 2 * TICK_MS);
        await Promise.all([leaderLease.revoke(), r1Lease.revoke()]);
        await meanwhile(async (seq) => {
          await r1Again.put(keys.seqKey('shard-0', R1)).value(seq);
        });
        const until = Date.now() + waitMs;
        let shard = (await keys.read()).map?.live?.shards[0];
        while (!(shard !== undefined && done(shard.leader)) && Date.now() < until) {
          await sleep(50);
          shard = (await keys.read()).map?.live?.shards[0];
        }
        assert.ok(shard !== undefined);
        return { leader: shard.leader, epoch: shard.epoch };
      } finally {
        await coordinator.stop();
        await r1Again.revoke().catch(() => undefined);
        client.close();
      }
    }

    it('lets a member resumed within the grace publish again before a replica behind it wins', async () => {
      const shard = await run(
        'lapsed-resumed',
        async (put) => {
          await sleep(TTL_MS);
          await put('10');
        },
        4 * TICK_MS,
      );
      assert.notEqual(
        shard.leader,
        R2,
        `R2 (seq 9) took the shard in epoch ${shard.epoch} while R1 held seq 10`,
      );
    });

    it('takes the shard once the lapsed member has been gone for the grace', async () => {
      // R2 campaigns about LAPSED_GRACE_TTLS TTLs after R1's lease went: waited for, not a fixed
      // (LAPSED_GRACE_TTLS + 2) TTLs (etcd answering its campaign's writes late used up the 2).
      const shard = await run(
        'lapsed-gone',
        () => Promise.resolve(),
        (LAPSED_GRACE_TTLS + 12) * TTL_MS,
        (leader) => leader === R2,
      );
      assert.equal(shard.leader, R2, 'R2 leads once R1 stayed away');
    });
  },
);
