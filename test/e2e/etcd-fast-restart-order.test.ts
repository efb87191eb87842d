/**
 * A whole etcd-coordinated shard killed (kill -9, every member) and started again within its lease
 * TTL, the lagging replica first (review of the cold-restart gate, campaign-gate.ts `unheard`).
 * etcd-cold-restart-order.test.ts waits for every lease to run out before the first start; here the
 * first process starts while the dead leader's key and the dead members' seqs are still in etcd,
 * under leases nobody renews. It sees the key "held" (heldSinceStart) and the others "published"
 * since it started, so the cold-start wait does not apply; once the stale leases expire it takes the
 * shard alone with the lagging data. A user restarting every unit at once (a deploy, a script that
 * kills and starts them) expects the same as after a slow restart: no `w=1` write acknowledged
 * before the kill is lost. One shard, a leader and two replicas as processes, lease TTL 4 s.
 * Skipped only when no etcd binary exists.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { TestCluster } from '../helpers/cluster.js';
import { etcdMissing, TestEtcd } from '../helpers/etcd.js';
import { coordinationToml } from '../helpers/etcd-trio.js';
import { agreedLeader, divergedOf, leaderSeenBy, Load } from '../helpers/failover-model.js';
import { pauseProcess } from '../helpers/process-pause.js';
import { freeNodeAddress } from '../helpers/resp.js';

/** TTL_MS is the members' lease TTL: long enough that the first start comes within it. */
const TTL_MS = 4000;
/** LAG_WRITES is how many `w=1` writes only the leader and the first replica take. */
const LAG_WRITES = 100;
/** ALONE_MS is how long the lagging replica runs alone: past the stale leases and the lapsed grace (3 TTLs). */
const ALONE_MS = 6 * TTL_MS;

describe(
  'a restart of every member within the lease TTL, the lagging replica first',
  { timeout: 240000, skip: etcdMissing() },
  () => {
    let dir: string;
    let etcd: TestEtcd;
    let cluster: TestCluster;
    let client: DistkvClient;
    let members: string[];

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'distkv-fast-restart-'));
      etcd = await TestEtcd.start();
      members = await Promise.all(['127.0.0.1', '127.0.0.2', '127.0.0.3'].map((h) => freeNodeAddress(h)));
      cluster = await TestCluster.start({
        dir,
        shards: [{ address: members[0]!, replicas: members.slice(1) }],
        extraToml: coordinationToml(etcd.url, TTL_MS),
      });
      client = new DistkvClient({ urls: members.map((m) => `http://${m}`), timeoutMs: 3000 });
    });

    after(async () => {
      await client.close();
      await cluster.stop();
      await etcd.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('keeps every w=1 write acknowledged before the kill', async (t) => {
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
      const killedAt = Date.now();
      for (const m of members) await cluster.kill(m);
      // No wait: the dead leader's key and the dead members' seqs are still in etcd.
      await cluster.startNode(r2);
      const startedIn = Date.now() - killedAt;
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
        `r2 started ${String(startedIn)} ms after the kill; leader before ${leader}; ${r2} alone saw ${leaderWhileAlone ?? 'none'} lead; now ${now}; diverged records ${diverged.join(', ')}`,
      );
      assert.deepEqual(
        lost.slice(0, 10),
        [],
        `${lost.length} of ${acked.size} acknowledged w=1 writes lost (the lagging replica ${r2}, started within the TTL, led: ${String(leaderWhileAlone === r2)})`,
      );
    });
  },
);
