/**
 * Only the most advanced live replica may win a campaign (docs/failover.md), and "most advanced"
 * is read from the seqs the members publish in etcd, each at its own tick (every TTL/4). When the
 * leader's key goes, a member's published seq may be up to a tick older than what it holds: a
 * replica that ranked itself against those at once could win while another holds acknowledged
 * `w=1` writes it lacks, and the new epoch would start below them (they would end in that
 * replica's divergence file). A campaign must first give every live member a tick to publish.
 *
 * Here the leader (its key and seq under a lease of its own) stops; replica R1 holds seq 10 but
 * last published 8, and publishes 10 half a tick after the leader's key went; replica
 * R2, a real EtcdCoordinator over a fake worker pool, holds 9. R2 must not take the shard.
 * Skipped only when no etcd binary exists.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Etcd3 } from 'etcd3';
import { EtcdKeyspace } from '../../src/coordination/etcd-keyspace.js';
import { oneShardConfig, testCoordinator } from '../helpers/coordinator.js';
import { etcdMissing, TestEtcd } from '../helpers/etcd.js';

// R1's publish, half a tick after the key went, must land within R2's tick: the test process
// late by the other half fails a correct R2. A 1 s TTL left 125 ms of that (a publish 150 ms late
// failed every run); 3 s leaves 375 ms.
const TTL_MS = 3000;
const TICK_MS = TTL_MS / 4;
const L = '127.0.0.1:7001';
const R1 = '127.0.0.1:7002';
const R2 = '127.0.0.1:7003';
const CLUSTER = 'fresh-seqs';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('a campaign after the leader key goes', { timeout: 60000, skip: etcdMissing() }, () => {
  let etcd: TestEtcd;
  before(async () => {
    etcd = await TestEtcd.start();
  });
  after(async () => {
    await etcd.stop();
  });

  it('waits for the other live members to publish their seqs before a replica behind one wins', async () => {
    const config = oneShardConfig(etcd.url, CLUSTER, TTL_MS, L, [R1, R2]);
    const client = new Etcd3({ hosts: etcd.url });
    const keys = new EtcdKeyspace(client, CLUSTER, config.shards);
    // The leader and R1 as etcd sees them: each one's keys under a lease of its own.
    // Revoked by the test: a 1 s lease (the least) lapsed if the test process stalled for a second.
    const leaderLease = client.lease(30);
    await leaderLease.put(keys.leaderKey('shard-0')).value(L);
    await leaderLease.put(keys.seqKey('shard-0', L)).value('10');
    const r1Lease = client.lease(30);
    await r1Lease.put(keys.seqKey('shard-0', R1)).value('8');

    // R2: its coordinator over a fake worker pool whose replica store holds seq 9.
    const coordinator = testCoordinator(config, CLUSTER, { role: 'replica', node: R2, lastSeq: () => 9 });
    try {
      await coordinator.start();
      // R2's lease must be older than a TTL (else it waits a tick anyway: the mass-expiry rule).
      await sleep(TTL_MS + 2 * TICK_MS);
      // The leader stops (a graceful stop revokes its lease: its key goes at once).
      await leaderLease.revoke();
      // R1 publishes what it holds when it sees the key go (its watch wakes its loop), or at its
      // next tick at the latest: here, half a tick later.
      await sleep(TICK_MS / 2);
      await r1Lease.put(keys.seqKey('shard-0', R1)).value('10');
      await sleep(4 * TICK_MS);
      const shard = (await keys.read()).map?.live?.shards[0];
      assert.ok(shard !== undefined);
      assert.notEqual(
        shard.leader,
        R2,
        `R2 (seq 9) took the shard in epoch ${shard.epoch} from seq ${shard.history.at(-1)?.firstSeq ?? '?'} while R1 held seq 10`,
      );
    } finally {
      await coordinator.stop();
      await r1Lease.revoke().catch(() => undefined);
      client.close();
    }
  });
});
