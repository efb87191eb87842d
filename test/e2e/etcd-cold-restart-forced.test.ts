/**
 * A cold restart of an etcd-coordinated shard where only one replica comes back (docs/failover.md,
 * "A cold restart of every member"): every member killed (kill -9), every lease run out, then one
 * replica started alone. It has not seen the shard's leader key held since it started, and the
 * other replica has not published its seq since, so it does not take the shard over however long
 * it waits (the other may hold acknowledged writes it lacks; the leader may only be restarting).
 * It says so once, naming the member it waits for and the way out, `distkv failover --force`;
 * that way out works in this state, and the members started later follow the forced leader.
 * One shard, a leader and two replicas as processes, lease TTL 1 s. Skipped only when no etcd
 * binary exists.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { etcdMissing } from '../helpers/etcd.js';
import { EtcdTrio, TRIO_TTL_MS } from '../helpers/etcd-trio.js';
import { leaderSeenBy, Load, storeOf, waitFor } from '../helpers/failover-model.js';
import { runCli } from '../helpers/server-process.js';

/** ALONE_MS is how long the replica runs alone before the test checks it still does not lead. */
const ALONE_MS = 6 * TRIO_TTL_MS;

describe(
  'a cold restart where one replica comes back alone',
  { timeout: 180000, skip: etcdMissing() },
  () => {
    let trio: EtcdTrio;

    before(async () => {
      trio = await EtcdTrio.start('cold-restart-forced');
    });

    after(async () => {
      await trio.stop();
    });

    it('waits for the unheard replica, says so, and gives way to distkv failover --force', async () => {
      const { members, client, cluster } = trio;
      await cluster.following();
      const leader = (await leaderSeenBy(members[0]!))!;
      const [r1, r2] = members.filter((m) => m !== leader) as [string, string];
      const load = new Load(client, 'cold', 2, 10000, 1);
      await load.until(30);
      await load.stop();
      await cluster.following();
      for (const m of members) await cluster.kill(m);
      // Every lease runs out while all are down.
      await new Promise((r) => setTimeout(r, 2 * TRIO_TTL_MS + 500));
      const alone = await cluster.startNode(r2);
      await new Promise((r) => setTimeout(r, ALONE_MS));
      assert.equal(await leaderSeenBy(r2), leader, `${r2}, alone, took the shard over`);
      assert.equal((await storeOf(r2)).role, 'replica');
      const said = alone.stdout.split('\n').filter((l) => l.includes('not taking shard-0 over'));
      assert.equal(said.length, 1, `said once: ${alone.stdout}`);
      assert.ok(said[0]!.includes(`${r1} has not published a seq`), said[0]);
      assert.ok(said[0]!.includes('distkv failover --shard shard-0 --force'), said[0]);
      // The way out: the operator accepts losing what only the others hold.
      const forced = await runCli(
        ['failover', '--url', `http://${r2}`, '--shard', 'shard-0', '--force', '--to', r2, '--json'],
        {},
      );
      assert.equal(forced.code, 0, `forced failover: ${forced.stdout} ${forced.stderr}`);
      await waitFor('the forced replica to lead', async () => (await storeOf(r2)).role === 'leader', 15000);
      const res = await fetch(`http://${r2}/kv/after-force?w=0`, { method: 'PUT', body: 'v' });
      assert.equal(res.status, 204, await res.text());
      // The others, started again, follow it.
      await Promise.all([cluster.startNode(leader), cluster.startNode(r1)]);
      await waitFor(
        'every member to name the forced leader',
        async () => (await Promise.all(members.map((m) => leaderSeenBy(m)))).every((s) => s === r2),
        30000,
      );
      await cluster.following();
      for (const [k, v] of load.acked) assert.equal((await client.get(k))?.toString(), v, k);
    });
  },
);
