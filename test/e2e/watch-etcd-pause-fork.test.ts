/**
 * A client watch open at a leader that is paused past its lease while a replica is elected through
 * etcd (docs/failover.md, "Automatic failover with etcd"; docs/watch.md, "Resuming"): one shard
 * over three member processes, lease TTL 1 s. Both replicas are stopped first, so the leader takes
 * `w=1` writes no replica holds (not acknowledged) and shows them to the watcher at versions above
 * the fork; then the leader is paused, the replicas started again and one of them elected, and the old
 * leader resumed. The watcher's stream at the old leader hangs while it is paused (the connection
 * stays open), so what it does after SIGCONT decides.
 *
 * What it checks: the watcher ends at the new leader's state (the lost value reverted, the lost
 * key gone) and follows the new leader's writes; no version comes twice or goes back between
 * snapshots (test/helpers/watch-view.ts). Skipped only when no etcd binary exists.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { etcdMissing } from '../helpers/etcd.js';
import { EtcdTrio } from '../helpers/etcd-trio.js';
import { clusterOf, leaderSeenBy, waitFor } from '../helpers/failover-model.js';
import { forkOf } from '../helpers/lin-fault-load.js';
import { pauseProcess } from '../helpers/process-pause.js';
import { parseVersion } from '../../src/routing/version.js';
import { WatchView } from '../helpers/watch-view.js';

const PREFIX = 'we:';

describe('a client watch at a leader paused past its lease', { timeout: 120000, skip: etcdMissing() }, () => {
  let trio: EtcdTrio;
  const clients: DistkvClient[] = [];
  const views: WatchView[] = [];

  before(async () => {
    trio = await EtcdTrio.start('watch-etcd-pause');
    await waitFor('a leader to hold its lease', async () => {
      const a = (await leaderSeenBy(trio.members[0]!)) ?? '';
      return a !== '' && (await clusterOf(a)).shards[0]!.leader.writes_held !== true;
    });
    await trio.cluster.following();
  });

  after(async () => {
    for (const v of views) await v.stop();
    for (const c of clients) await c.close();
    await trio.stop();
  });

  it('ends at the elected leader state, without the writes the election undid', async () => {
    const { members, cluster, client } = trio;
    const leader = (await leaderSeenBy(members[0]!))!;
    const others = members.filter((m) => m !== leader);
    await client.put(`${PREFIX}k`, 'kept', { w: 2, timeoutMs: 10000 });
    const view = new WatchView(client, PREFIX, '0.0');
    views.push(view);
    await waitFor('the watcher to see the acknowledged write', () =>
      Promise.resolve(view.has(`${PREFIX}k`, 'kept')),
    );

    // Both replicas stopped (a paused one may still get records its pull had in flight): the
    // leader applies the next writes and shows them, and no replica can hold them.
    for (const o of others) await cluster.stopNode(o);
    const leaderProcess = cluster.process(leader).child;
    let paused = false;
    try {
      const lost = [
        client.put(`${PREFIX}k`, 'lost', { w: 1, timeoutMs: 1000 }).catch(() => undefined),
        client.put(`${PREFIX}gone`, 'lost', { w: 1, timeoutMs: 1000 }).catch(() => undefined),
      ];
      await waitFor('the watcher to see the writes no replica holds', () =>
        Promise.resolve(view.has(`${PREFIX}k`, 'lost') && view.has(`${PREFIX}gone`, 'lost')),
      );
      for (const p of lost)
        assert.equal(await p, undefined, 'a w=1 write no replica holds is not acknowledged');
      const seenSeq = parseVersion(view.versions[view.versions.length - 1]!)!.seq;

      await pauseProcess(leaderProcess);
      paused = true;
      for (const o of others) await cluster.startNode(o);
      let now = '';
      await waitFor(
        'a replica to be elected',
        async () => {
          now = (await leaderSeenBy(others[0]!)) ?? '';
          return now !== '' && now !== leader;
        },
        20_000,
      );
      const fork = parseVersion(forkOf((await clusterOf(now)).map.shards[0]!))!;
      assert.ok(fork.seq < seenSeq, `the watcher saw seq ${seenSeq}, above the fork ${fork.seq}`);
      leaderProcess.kill('SIGCONT');
      paused = false;

      const writer = new DistkvClient({ urls: others.map((o) => `http://${o}`), timeoutMs: 10000 });
      clients.push(writer);
      await writer.put(`${PREFIX}after`, 'new', { w: 1, timeoutMs: 10000 });
      await view.reaches(now, PREFIX, 'the watch through the election');
      assert.equal(view.map.get(`${PREFIX}k`), 'kept');
      assert.equal(view.map.has(`${PREFIX}gone`), false);
      assert.deepEqual(view.problems, [], 'versions only grew and none came twice');
      console.log(`fork ${fork.seq}, seen ${seenSeq}; streams ${JSON.stringify(view.streams)}`);
    } finally {
      if (paused) leaderProcess.kill('SIGCONT');
    }
  });
});
