/**
 * With etcd, the new epoch of a leader restarting after an unclean stop (`durability =
 * "interval"`, docs/failover.md "A leader restarting after a crash") is allocated through etcd,
 * as a campaign's is: the leader, killed with SIGKILL and back before its lease ran out, retakes
 * its leader key and publishes its own promotion (compare-and-swap on etcd's map) in an epoch
 * that is an etcd revision, starting after its recovered last seq; every member adopts it from
 * etcd. A clean stop and restart changes nothing. Skipped only when no etcd binary exists.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Etcd3 } from 'etcd3';
import { DistkvClient } from '../../src/client/client.js';
import type { LiveMap } from '../../src/routing/live-map.js';
import { TestCluster } from '../helpers/cluster.js';
import { TestEtcd, etcdMissing } from '../helpers/etcd.js';
import { clusterOf, storeOf, waitFor } from '../helpers/failover-model.js';
import { freePort } from '../helpers/ports.js';

/** etcdMap reads the live map etcd holds (the one cluster under /distkv/). */
async function etcdMap(url: string): Promise<LiveMap> {
  const etcd = new Etcd3({ hosts: url });
  try {
    const all = await etcd.getAll().prefix('/distkv/').strings();
    const key = Object.keys(all).find((k) => k.endsWith('/map'));
    assert.ok(key !== undefined, 'etcd holds a live map');
    return JSON.parse(all[key]!) as LiveMap;
  } finally {
    etcd.close();
  }
}

describe(
  'a leader restarting after an unclean stop, with etcd',
  { timeout: 120000, skip: etcdMissing() },
  () => {
    let dir = '';
    let etcd: TestEtcd;
    let cluster: TestCluster;
    let A = '';
    let B = '';

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'distkv-restart-epoch-etcd-'));
      etcd = await TestEtcd.start();
      A = `127.0.0.1:${await freePort('127.0.0.1')}`;
      B = `127.0.0.2:${await freePort('127.0.0.2')}`;
      cluster = await TestCluster.start({
        dir,
        shards: [{ address: A, replicas: [B] }],
        // A lease long enough for the killed leader to come back before a replica may campaign:
        // what is tested is a leader back within its lease. With 10 s (up to a tick, a quarter
        // of it, already gone at the kill), a restart under heavy load outlasted it, B took the
        // shard and "the restarted leader still leads" failed. The test waits through ticks, so
        // a longer lease costs time: 20 s, not more.
        extraToml:
          '[storage]\ndurability = "interval"\nfsync_interval_ms = 60000\n' +
          `[coordination]\netcd = ["${etcd.url}"]\nlease_ttl_ms = 20000\n`,
        // At info, A's clean stop says whether it waited for a successor (asserted below).
        env: { DISTKV_LOG_LEVEL: 'info' },
      });
    });

    after(async () => {
      // `cluster` is unset when its start failed (it stopped its nodes then): etcd is stopped anyway.
      try {
        await (cluster as TestCluster | undefined)?.stop();
      } finally {
        await (etcd as TestEtcd | undefined)?.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('publishes its new epoch through etcd, after its recovered last seq', async () => {
      await waitFor(
        'A to hold its lease',
        async () => (await clusterOf(A)).shards[0]!.leader.writes_held !== true,
      );
      const client = new DistkvClient({ urls: [`http://${A}`], timeoutMs: 5000 });
      try {
        for (let i = 1; i <= 5; i++) await client.put(`k/${i}`, `v${i}`, { w: 1, timeoutMs: 10000 });
      } finally {
        await client.close();
      }
      const before = await etcdMap(etcd.url);
      assert.equal(before.shards[0]!.epoch, 0);

      await cluster.kill(A);
      await cluster.startNode(A);
      const last = (await storeOf(A)).lastSeq;
      const after = await etcdMap(etcd.url);
      const shard = after.shards[0]!;
      assert.equal(shard.leader, A, 'the restarted leader still leads');
      assert.ok(shard.epoch > 1, `the epoch ${shard.epoch} is an etcd revision`);
      assert.deepEqual(shard.history, [{ epoch: shard.epoch, firstSeq: last + 1 }]);
      assert.equal(after.version, before.version + 1);
      assert.equal((await clusterOf(A)).shards[0]!.epoch, shard.epoch, 'A serves with etcd map');
      await waitFor('B to adopt it', async () => (await clusterOf(B)).shards[0]!.epoch === shard.epoch);

      // A clean stop and restart: no new epoch (B stopped first: A's clean stop lets its key go at
      // once, and B would campaign for it).
      await cluster.stopNode(B);
      const a = cluster.process(A);
      await cluster.stopNode(A);
      // B's seq went with its lease: nothing can campaign for the shard, and A's stop does not wait
      // for a successor. It waited its whole bound (3 s), as B still showed its last ack caught up.
      assert.doesNotMatch(a.stdout, /etcd named no new leader/, 'A waited for a successor');
      await cluster.startNode(A);
      const again = await etcdMap(etcd.url);
      assert.equal(again.version, after.version, 'no map change after a clean stop');
      assert.equal(again.shards[0]!.epoch, shard.epoch);
    });
  },
);
