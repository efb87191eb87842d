/**
 * With etcd, the node of a leader whose store directory was removed, once a replica took the shard
 * over. Its log said "Restart ADDR to rebuild its store from the new leader" (shard-step.ts
 * `resignLost`, campaign.ts for the replica it is then), as docs/failover.md did; restarted so, its
 * store does not open (its directory is missing and its commit log holds records: only `--repair`
 * opens it, as the store's own message says), and `distkv cluster` then said the replica's leader
 * "has not answered it since it started" and offered `distkv failover --to` it, where the node's
 * /cluster names the open error. Now the log names `--repair`, `distkv cluster` names the open
 * error, and a restart with `--repair` brings the node back as a replica that follows the new
 * leader. Skipped only when no etcd binary exists.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { etcdMissing } from '../helpers/etcd.js';
import { EtcdTrio } from '../helpers/etcd-trio.js';
import { storeOf, waitFor } from '../helpers/failover-model.js';
import { runCli } from '../helpers/server-process.js';

describe(
  'the node of a leader whose store directory was removed, restarted after a replica took over, with etcd',
  { timeout: 120000, skip: etcdMissing() },
  () => {
    let trio: EtcdTrio;
    let old = '';
    let next = '';
    /** advice are the old leader's log lines, before its restart, that tell to restart it. */
    let advice: string[] = [];

    before(async () => {
      trio = await EtcdTrio.start('leader-dir-lost-restart');
      const { cluster, members } = trio;
      const [A] = members as [string, string, string];
      old = A;
      await cluster.following();
      for (let i = 0; i < 20; i++) {
        const r = await fetch(`http://${A}/kv/k${String(i)}?w=2`, { method: 'PUT', body: 'v' });
        assert.equal(r.status, 204, await r.text());
      }
      trio.removeStoreDir(A);
      next = await trio.newLeader(A);
      // The old leader's node adopts the new map and logs, as a replica, why it does not campaign.
      await waitFor('the old leader to log as a replica', () =>
        Promise.resolve(cluster.process(A).stdout.includes('not taking shard-0 over')),
      );
      advice = cluster
        .process(A)
        .stdout.split('\n')
        .filter((l) => /[Rr]estart|start it with/.test(l));
      // What a careless operator does first: a plain restart.
      await cluster.stopNode(A);
      await cluster.startNode(A);
    });

    after(async () => {
      await trio.stop();
    });

    it('distkv cluster names why its store is failed and offers no failover to it', async () => {
      const doc = (await (await fetch(`http://${old}/cluster`)).json()) as {
        shards: { replicas: { local: boolean; state?: string }[] }[];
      };
      const mine = doc.shards[0]!.replicas.find((r) => r.local);
      assert.equal(mine?.state, 'failed', 'a plain restart opened the store whose directory was lost');
      const r = await runCli(['cluster', '--url', next]);
      const out = r.stdout + r.stderr;
      assert.equal(r.code, 1);
      assert.doesNotMatch(out, new RegExp(`failover --shard shard-0 --to ${old}`), out);
      assert.doesNotMatch(out, /its leader has not answered it since it started/, out);
      assert.match(out, /could not open|CORRUPTION|--repair/, out);
    });
    it('tells to restart it with --repair, which brings it back as a replica of the new leader', async () => {
      assert.ok(advice.length > 0, 'the old leader logged no advice to restart it');
      const said = advice.map((l) => (JSON.parse(l) as { msg: string }).msg).join('\n');
      assert.ok(
        advice.every((l) => l.includes('--repair')),
        `its log tells to restart it without --repair:\n${said}`,
      );
      await trio.cluster.stopNode(old);
      await trio.cluster.startNode(old, undefined, ['--repair']);
      await waitFor(
        `${old} to follow ${next} after a restart with --repair`,
        async () => {
          const st = (await (await fetch(`http://${old}/cluster`)).json()) as {
            shards: { replicas: { local: boolean; state?: string; error?: string }[] }[];
          };
          const mine = st.shards[0]!.replicas.find((r) => r.local);
          if (mine?.state === 'failed') assert.fail(`its store did not open: ${mine.error ?? ''}`);
          return (await storeOf(old)).role === 'replica' && mine?.state === 'streaming';
        },
        15000,
      );
    });
  },
);
