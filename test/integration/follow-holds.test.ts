/**
 * A replica ranked on the seq it published must not hold more than that seq (docs/failover.md,
 * "Automatic failover with etcd"; src/coordination/follow-holds.ts). A leader cut off from etcd
 * alone still reaches its replicas: before, a replica went on applying its records after the
 * leader's key went, while the campaign ranked it on the seq it had published at its last tick,
 * so the winner could start the new epoch below records that replica held.
 *
 * Here the leader's key and seq are under a lease of their own, R2 (another replica) published a
 * seq far ahead (so R1 never campaigns), and R1 is a real EtcdCoordinator over a fake worker pool
 * whose replica store applies a record every few milliseconds unless it is held.
 * Skipped only when no etcd binary exists.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Etcd3 } from 'etcd3';
import { EtcdKeyspace } from '../../src/coordination/etcd-keyspace.js';
import type { ToWorker } from '../../src/worker/messages.js';
import { oneShardConfig, testCoordinator } from '../helpers/coordinator.js';
import { etcdMissing, TestEtcd } from '../helpers/etcd.js';

const TTL_MS = 1000;
const TICK_MS = TTL_MS / 4;
const L = '127.0.0.1:7101';
const R1 = '127.0.0.1:7102';
const R2 = '127.0.0.1:7103';
const CLUSTER = 'follow-holds';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** FollowingReplica is the fake worker side of R1's replica store: it applies a record every 5 ms unless held. */
class FollowingReplica {
  seq = 100;
  held = false;
  private readonly timer = setInterval(() => {
    if (!this.held) this.seq++;
  }, 5);

  call(msg: ToWorker): Promise<unknown> {
    if (msg.type !== 'fence') throw new Error(`unexpected ${msg.type} to the worker`);
    this.held = msg.on;
    return Promise.resolve({ type: 'fence-result', id: 0, ok: true, lastSeq: this.seq });
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

describe("a replica while its shard's leader key is missing", { timeout: 60000, skip: etcdMissing() }, () => {
  let etcd: TestEtcd;
  before(async () => {
    etcd = await TestEtcd.start();
  });
  after(async () => {
    await etcd.stop();
  });

  it('stops following before it publishes its seq, and follows again once the leader retakes its key', async () => {
    const config = oneShardConfig(etcd.url, CLUSTER, TTL_MS, L, [R1, R2]);
    const client = new Etcd3({ hosts: etcd.url });
    const keys = new EtcdKeyspace(client, CLUSTER, config.shards);
    // Revoked by the test: a 1 s lease (the least) lapsed if the test process stalled for a second.
    const leaderLease = client.lease(30);
    await leaderLease.put(keys.leaderKey('shard-0')).value(L);
    const r2Lease = client.lease(30);
    await r2Lease.put(keys.seqKey('shard-0', R2)).value('1000000000');

    const replica = new FollowingReplica();
    const coordinator = testCoordinator(config, CLUSTER, {
      role: 'replica',
      node: R1,
      lastSeq: () => replica.seq,
      call: (msg) => replica.call(msg),
    });
    const published = async (): Promise<number> =>
      Number((await client.get(keys.seqKey('shard-0', R1)).string()) ?? NaN);
    try {
      await coordinator.start();
      await sleep(2 * TICK_MS);
      assert.equal(replica.held, false, 'a replica follows while its leader holds the key');

      // The leader is cut off from etcd: its key goes, it still reaches R1.
      await leaderLease.revoke();
      await sleep(3 * TICK_MS);
      const seen = await published();
      assert.ok(
        replica.seq <= seen,
        `R1 holds seq ${replica.seq} but published ${seen}: a campaign ranks it on less than it holds`,
      );
      assert.equal(replica.held, true);

      // The map's leader takes its key back (etcd reachable again): R1 follows again.
      const again = client.lease(5);
      await again.put(keys.leaderKey('shard-0')).value(L);
      await sleep(3 * TICK_MS);
      assert.equal(replica.held, false, 'R1 is still held after its leader took its key back');
      assert.ok(replica.seq > seen + 10, 'R1 applies records again');
      await again.revoke();
    } finally {
      await coordinator.stop();
      replica.stop();
      await r2Lease.revoke().catch(() => undefined);
      client.close();
    }
  });
});
