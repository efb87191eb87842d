/**
 * A campaign whose lease expires while it runs (docs/failover.md, "Automatic failover with etcd"):
 * the replica took the shard's leader key under its lease, then, while its store was being held
 * for the promotion, the lease ended (etcd unreachable for a moment, a stalled process) and the
 * key with it, and another member took the key. The promotion's map still went out and was
 * adopted, and the process counted itself the key's holder: once a keepalive got it a new lease,
 * it took writes as the leader until its next reconcile saw the key held by the other, while
 * the other could take them too. A holder now counts only under the lease it took the key with.
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
const L = '127.0.0.1:7401';
const R = '127.0.0.1:7402';
const O = '127.0.0.1:7403';
const CLUSTER = 'lease-lost-mid-campaign';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('a campaign whose lease expires while it promotes', { timeout: 60000, skip: etcdMissing() }, () => {
  let etcd: TestEtcd;
  before(async () => {
    etcd = await TestEtcd.start();
  });
  after(async () => {
    await etcd.stop();
  });

  it('takes no write once another member holds the key it lost', async () => {
    const config = oneShardConfig(etcd.url, CLUSTER, TTL_MS, L, [R, O]);
    const client = new Etcd3({ hosts: etcd.url });
    const keys = new EtcdKeyspace(client, CLUSTER, config.shards);
    const other = client.lease(30, { autoKeepAlive: true });
    const state = { lost: false };
    const call = async (msg: ToWorker): Promise<unknown> => {
      const leaderKey = (await client.get(keys.leaderKey('shard-0')).exec()).kvs[0];
      if (msg.type === 'fence' && msg.on && !state.lost && leaderKey?.value.toString() === R) {
        // The campaign holds the store: its lease ends now, and O takes the key that went with it.
        await client.leaseClient.leaseRevoke({ ID: leaderKey.lease });
        await other.put(keys.leaderKey('shard-0')).value(O).exec();
        state.lost = true;
        await sleep(TTL_MS); // the keepalives learn the lease is gone
      }
      return { type: 'fence-result', id: 0, ok: true, lastSeq: 7 };
    };
    const replica = testCoordinator(config, CLUSTER, { role: 'replica', node: R, lastSeq: () => 7, call });
    let wrongly = 0;
    try {
      // L never takes its key: after the gate, R (ahead of O, the other replica) campaigns. O
      // publishes its seq: a process that never saw the key held waits for every replica to.
      await other.put(keys.seqKey('shard-0', O)).value('5').exec();
      await replica.start();
      const until = Date.now() + 15000;
      while (!state.lost && Date.now() < until) await sleep(20);
      assert.ok(state.lost, 'R campaigned');
      for (let i = 0; i < 150; i++) {
        if (replica.mayWrite(0)) wrongly++;
        await sleep(10);
      }
      assert.equal(
        (await client.get(keys.leaderKey('shard-0')).exec()).kvs[0]?.value.toString(),
        O,
        'O holds the key',
      );
      assert.equal(wrongly, 0, `R took writes in ${wrongly} of 150 looks while O held the key`);
    } finally {
      await replica.stop();
      await other.revoke();
      client.close();
    }
  });
});
