/**
 * A whole etcd-coordinated shard killed (kill -9, every member) and started again one node at a time
 * (docs/failover.md, "Automatic failover with etcd"), the replica that lagged started first. Every
 * member's lease ran out while all were down, so etcd holds no leader key and no published seq; the
 * replica that starts first sees no other live member and nothing says the leader, which holds
 * more, is only restarting. A user restarting a cluster (a host reboot, units started in any order)
 * expects no write that was acknowledged with `w=1` to go: the leader and the other replica hold
 * each such write on disk. One shard, a leader and two replicas as processes, lease TTL 1 s.
 * Skipped only when no etcd binary exists.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { etcdMissing } from '../helpers/etcd.js';
import { EtcdTrio, TRIO_TTL_MS } from '../helpers/etcd-trio.js';
import { agreedLeader, divergedOf, leaderSeenBy, Load } from '../helpers/failover-model.js';
import { pauseProcess } from '../helpers/process-pause.js';

/** LAG_WRITES is how many `w=1` writes only the leader and the first replica take. */
const LAG_WRITES = 100;
/** ALONE_MS is how long the lagging replica runs alone before the others start (a few seconds of a staggered restart). */
const ALONE_MS = 5 * TRIO_TTL_MS;

describe(
  'a cold restart of every member, the lagging replica first',
  { timeout: 180000, skip: etcdMissing() },
  () => {
    let trio: EtcdTrio;

    before(async () => {
      trio = await EtcdTrio.start('cold-restart');
    });

    after(async () => {
      await trio.stop();
    });

    it('keeps every w=1 write acknowledged before the kill', async (t) => {
      const { members, client, cluster } = trio;
      await cluster.following();
      const leader = (await leaderSeenBy(members[0]!))!;
      const [r1, r2] = members.filter((m) => m !== leader) as [string, string];
      const warm = new Load(client, 'warm', 2, 10000, 1);
      await warm.until(50);
      await warm.stop();
      // r2 stops pulling: the next writes are acknowledged by r1 alone (w=1).
      await pauseProcess(cluster.process(r2).child);
      const lag = new Load(client, 'lag', 2, 10000, 1);
      await lag.until(LAG_WRITES);
      await lag.stop();
      const acked = new Map([...warm.acked, ...lag.acked]);
      for (const m of members) await cluster.kill(m);
      // Every lease runs out while all are down.
      await new Promise((r) => setTimeout(r, 2 * TRIO_TTL_MS + 500));
      await cluster.startNode(r2);
      await new Promise((r) => setTimeout(r, ALONE_MS));
      const leaderWhileAlone = await leaderSeenBy(r2);
      await Promise.all([cluster.startNode(leader), cluster.startNode(r1)]);
      const now = await agreedLeader(members);
      await cluster.following();
      const lost: string[] = [];
      for (const [k, v] of acked) {
        const got = (await client.get(k))?.toString();
        if (got !== v) lost.push(k);
      }
      const diverged = await Promise.all(members.map(async (m) => `${m}: ${(await divergedOf(m)).records}`));
      t.diagnostic(
        `leader before ${leader}; ${r2} alone saw ${leaderWhileAlone ?? 'none'} lead; now ${now}; diverged records ${diverged.join(', ')}`,
      );
      assert.deepEqual(
        lost.slice(0, 10),
        [],
        `${lost.length} of ${acked.size} acknowledged w=1 writes lost (the lagging replica ${r2}, started first, led: ${String(leaderWhileAlone === r2)})`,
      );
    });
  },
);
