/**
 * A leader that comes back from another config gets its TTL to take its key (docs/failover.md, "A
 * rolling config change"). During a rolling change of sharding.toml a replica restarted on the new
 * file coordinates under the new file's etcd keys and does not campaign while the shard's leader
 * still routes with the old file (src/coordination/config-peers.ts). That leader, restarted last
 * with the new file, answers peer checks as soon as its front door serves, before its coordinator
 * has taken its key or published its seq: the key had been missing under the new keys since the
 * replica started, so the replica campaigned at its next tick and took the shard over from its own
 * seq, which the change had stopped (its pulls were refused as CONFIG_MISMATCH). Everything the
 * leader acknowledged since went to its divergence file.
 *
 * Here R (a real EtcdCoordinator over a fake pool, seq 9) sees L routing with another config for
 * three TTLs, then with its own; L takes its key half a TTL later. R must not take the shard.
 *
 * And while L routes with another config, R's replica is not held (src/coordination/follow-holds.ts):
 * this config's key is missing for the whole change, and held, the replica stopped copying L (`w=1`
 * writes timed out, L's graceful stop found no replica holding its last seq). Once L answers with
 * R's config and its key is still missing, R holds it again, for the ranking of a campaign.
 * Skipped only when no etcd binary exists.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Etcd3 } from 'etcd3';
import { EtcdKeyspace } from '../../src/coordination/etcd-keyspace.js';
import type { PeerState } from '../../src/server/peer-check.js';
import type { ToWorker } from '../../src/worker/messages.js';
import { oneShardConfig, testCoordinator } from '../helpers/coordinator.js';
import { etcdMissing, TestEtcd } from '../helpers/etcd.js';

const TTL_MS = 1000;
const L = '127.0.0.1:7101';
const R = '127.0.0.1:7102';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('a leader back from another config, with etcd', { timeout: 30000, skip: etcdMissing() }, () => {
  let etcd: TestEtcd;
  before(async () => {
    etcd = await TestEtcd.start();
  });
  after(async () => {
    await etcd.stop();
  });

  it('takes its key before a replica behind it may campaign', async () => {
    const cluster = 'leader-returns';
    const config = oneShardConfig(etcd.url, cluster, TTL_MS, L, [R]);
    const client = new Etcd3({ hosts: etcd.url });
    const keys = new EtcdKeyspace(client, cluster, config.shards);
    let state: PeerState = 'disagrees';
    const coordinator = testCoordinator(
      config,
      cluster,
      { role: 'replica', node: R, lastSeq: () => 9 },
      () => Promise.resolve(),
      undefined,
      () => [{ address: L, state }],
    );
    const leaderLease = client.lease(30);
    const leaders: string[] = [];
    const watch = async (ms: number): Promise<void> => {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        const shard = (await keys.read()).map?.live?.shards[0];
        if (shard !== undefined) leaders.push(shard.leader);
        await sleep(50);
      }
    };
    try {
      await coordinator.start();
      await watch(3 * TTL_MS);
      assert.ok(!leaders.includes(R), `${R} took the shard while its leader routed with another config`);
      // L restarted with R's file: it answers peer checks at once, its key comes half a TTL later.
      state = 'agrees';
      await watch(TTL_MS / 2);
      await leaderLease.put(keys.seqKey('shard-0', L)).value('12');
      await leaderLease.put(keys.leaderKey('shard-0')).value(L);
      await watch(2 * TTL_MS);
      assert.ok(
        !leaders.includes(R),
        `${R} (seq 9) took the shard from ${L} (seq 12) in the moment between L's first answer and its key`,
      );
    } finally {
      await coordinator.stop();
      await leaderLease.revoke().catch(() => undefined);
      client.close();
    }
  });

  it('does not hold the replica while its leader routes with another config', async () => {
    const cluster = 'leader-elsewhere-holds';
    const config = oneShardConfig(etcd.url, cluster, TTL_MS, L, [R]);
    let state: PeerState = 'disagrees';
    /** fence is what R's worker was last told (held) and whether it was ever held. */
    const fence = { held: false, everHeld: false };
    const coordinator = testCoordinator(
      config,
      cluster,
      {
        role: 'replica',
        node: R,
        lastSeq: () => 9,
        call: (msg: ToWorker) => {
          if (msg.type !== 'fence') throw new Error(`unexpected ${msg.type} to the worker`);
          fence.held = msg.on;
          fence.everHeld ||= msg.on;
          return Promise.resolve({ type: 'fence-result', id: 0, ok: true, lastSeq: 9 });
        },
      },
      () => Promise.resolve(),
      undefined,
      () => [{ address: L, state }],
    );
    try {
      await coordinator.start();
      await sleep(3 * TTL_MS);
      assert.equal(
        fence.everHeld,
        false,
        `${R} was held (stopped copying) while ${L} routed with another config`,
      );
      state = 'agrees';
      const until = Date.now() + 2 * TTL_MS;
      while (!fence.held && Date.now() < until) await sleep(50);
      assert.equal(fence.held, true, `${R} is held once ${L} answers with its config and its key is missing`);
    } finally {
      await coordinator.stop();
    }
  });
});
