/**
 * etcd losing its data while the nodes run (wiped, or restored from a snapshot older than every
 * lease): every leader key, published seq and lease is gone at once, yet every member is alive
 * and still holds what it held. The nodes keep their newer map and write it back (map-sync.ts);
 * the shard must then go to its leader again or to the most advanced member, never to a replica
 * behind another live member: that one holds acknowledged `w=1` writes the winner would start its
 * epoch below (they would end in a divergence file).
 *
 * Three real EtcdCoordinators over fake worker pools: the leader L and replica R2 hold seq 10 (R2
 * acknowledged L's last write), R1 holds 9. etcd's data is then removed: every key under the
 * prefix deleted and every lease revoked, as a wipe leaves it. Each round starts the wipe at
 * another point of the members' ticks. Skipped only when no etcd binary exists.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Etcd3 } from 'etcd3';
import type { EtcdCoordinator } from '../../src/coordination/etcd-coordinator.js';
import { EtcdKeyspace } from '../../src/coordination/etcd-keyspace.js';
import type { LiveMap, LiveShard } from '../../src/routing/live-map.js';
import { oneShardConfig, testCoordinator } from '../helpers/coordinator.js';
import { etcdMissing, TestEtcd } from '../helpers/etcd.js';

const TTL_MS = 1000;
const TICK_MS = TTL_MS / 4;
const L = '127.0.0.1:7101';
const R1 = '127.0.0.1:7102';
const R2 = '127.0.0.1:7103';
const ROUNDS = 6;
/** SETTLE_MS bounds how long a round waits for the shard to settle after the wipe (see `settled`). */
const SETTLE_MS = 10_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** wipe removes everything etcd holds for the cluster, as a wipe or an old snapshot leaves it. */
async function wipe(client: Etcd3, prefix: string): Promise<void> {
  const leases = await client.leaseClient.leaseLeases();
  await Promise.all(leases.leases.map((l) => client.leaseClient.leaseRevoke({ ID: l.ID })));
  await client.delete().prefix(prefix).exec();
}

/**
 * settled waits until a map is back in etcd and the leader it names holds the shard's leader key
 * (nobody else can take the shard then), at most SETTLE_MS, and returns the map's shard. A fixed
 * 4 s stood for it: a node writes the map back and the leader retakes its key within a tick or two.
 */
async function settled(keys: EtcdKeyspace): Promise<LiveShard | undefined> {
  const deadline = Date.now() + SETTLE_MS;
  for (;;) {
    const snap = await keys.read();
    const shard = snap.map?.live?.shards[0];
    const holder = snap.leaders.get('shard-0')?.value.toString();
    if ((shard !== undefined && holder === shard.leader) || Date.now() > deadline) return shard;
    await sleep(50);
  }
}

describe('etcd losing its data while the nodes run', { timeout: 120000, skip: etcdMissing() }, () => {
  let etcd: TestEtcd;
  before(async () => {
    etcd = await TestEtcd.start();
  });
  after(async () => {
    await etcd.stop();
  });

  it('never gives the shard to a replica behind a live member, and keeps the nodes newer map', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const cluster = `data-lost-${String(round)}`;
      const config = oneShardConfig(etcd.url, cluster, TTL_MS, L, [R1, R2]);
      const client = new Etcd3({ hosts: etcd.url });
      const keys = new EtcdKeyspace(client, cluster, config.shards);
      const maps = new Map<string, LiveMap[]>([
        [L, []],
        [R1, []],
        [R2, []],
      ]);
      const member = (node: string, role: 'leader' | 'replica', seq: number): EtcdCoordinator =>
        testCoordinator(config, cluster, { role, node, lastSeq: () => seq }, (m) => {
          maps.get(node)?.push(m);
          return Promise.resolve();
        });
      const members = [member(L, 'leader', 10), member(R1, 'replica', 9), member(R2, 'replica', 10)];
      try {
        await Promise.all(members.map((c) => c.start()));
        // Every lease older than a TTL, the leader's key held and every seq published.
        await sleep(TTL_MS + 2 * TICK_MS + (round * TICK_MS) / ROUNDS);
        const prior = (await keys.read()).map?.live;
        assert.ok(prior !== undefined, `round ${String(round)}: a map in etcd before the wipe`);
        assert.equal(prior.shards[0]?.leader, L, `round ${String(round)}: L leads before the wipe`);
        await wipe(client, keys.prefix);
        const shard = await settled(keys);
        assert.ok(shard !== undefined, `round ${String(round)}: a map is back in etcd`);
        assert.notEqual(
          shard.leader,
          R1,
          `round ${String(round)}: R1 (seq 9) took the shard in epoch ${String(shard.epoch)} from seq ${String(shard.history.at(-1)?.firstSeq ?? '?')} while R2 held seq 10`,
        );
        for (const [node, seen] of maps)
          for (const m of seen)
            assert.ok(m.version >= prior.version, `${node} adopted map ${String(m.version)}`);
      } finally {
        await Promise.all(members.map((c) => c.stop()));
        client.close();
      }
    }
  });

  it('lets a member that lost its lease in the same event publish again before a replica ranks itself', async () => {
    // R1 is real; L and R2 are played by the test: R2 (seq 10) publishes again 1.5 ticks after
    // the wipe, as one whose keepalive came late (its phase, a slow etcd answer) would.
    const cluster = 'data-lost-late';
    const config = oneShardConfig(etcd.url, cluster, TTL_MS, L, [R1, R2]);
    const client = new Etcd3({ hosts: etcd.url });
    const keys = new EtcdKeyspace(client, cluster, config.shards);
    const leaderLease = client.lease(30);
    await leaderLease.put(keys.leaderKey('shard-0')).value(L);
    await leaderLease.put(keys.seqKey('shard-0', L)).value('10');
    const r2Lease = client.lease(30);
    await r2Lease.put(keys.seqKey('shard-0', R2)).value('10');
    const r1 = testCoordinator(config, cluster, { role: 'replica', node: R1, lastSeq: () => 9 });
    let late: ReturnType<Etcd3['lease']> | undefined;
    try {
      await r1.start();
      await sleep(TTL_MS + 2 * TICK_MS);
      await wipe(client, keys.prefix);
      await sleep(1.5 * TICK_MS);
      late = client.lease(30);
      await late.put(keys.seqKey('shard-0', R2)).value('10');
      await sleep(2 * TTL_MS);
      const shard = (await keys.read()).map?.live?.shards[0];
      assert.notEqual(
        shard?.leader,
        R1,
        `R1 (seq 9) took the shard from seq ${String(shard?.history.at(-1)?.firstSeq ?? '?')} while R2 held seq 10`,
      );
    } finally {
      await r1.stop();
      for (const l of [leaderLease, r2Lease, late]) await l?.revoke().catch(() => undefined);
      client.close();
    }
  });

  it('publishes a seq again when etcd shows an older one (restored from a snapshot)', async () => {
    // R1 (seq 9) and R2 (seq 10) are real; the leader is played by the test. etcd comes back
    // from a snapshot taken after R2's lease was granted but before it published 10: it shows 8,
    // under R2's own lease. Then the leader's key goes.
    const cluster = 'data-lost-snapshot';
    const config = oneShardConfig(etcd.url, cluster, TTL_MS, L, [R1, R2]);
    const client = new Etcd3({ hosts: etcd.url });
    const keys = new EtcdKeyspace(client, cluster, config.shards);
    const leaderLease = client.lease(30);
    await leaderLease.put(keys.leaderKey('shard-0')).value(L);
    await leaderLease.put(keys.seqKey('shard-0', L)).value('10');
    const r1 = testCoordinator(config, cluster, { role: 'replica', node: R1, lastSeq: () => 9 });
    const r2 = testCoordinator(config, cluster, { role: 'replica', node: R2, lastSeq: () => 10 });
    try {
      await Promise.all([r1.start(), r2.start()]);
      await sleep(TTL_MS + 2 * TICK_MS);
      const r2Key = keys.seqKey('shard-0', R2);
      const kv = (await client.getAll().prefix(r2Key).exec()).kvs[0];
      assert.ok(kv !== undefined, 'R2 published its seq');
      await client.put(r2Key).value('8').lease(kv.lease).exec();
      await sleep(3 * TICK_MS);
      await leaderLease.revoke();
      await sleep(2 * TTL_MS);
      const shard = (await keys.read()).map?.live?.shards[0];
      assert.notEqual(
        shard?.leader,
        R1,
        `R1 (seq 9) took the shard from seq ${String(shard?.history.at(-1)?.firstSeq ?? '?')} while R2 held seq 10`,
      );
    } finally {
      await Promise.all([r1.stop(), r2.stop()]);
      await leaderLease.revoke().catch(() => undefined);
      client.close();
    }
  });
});
