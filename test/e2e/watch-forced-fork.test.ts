/**
 * A client watch through a forced failover that undoes writes it saw (docs/watch.md, "Resuming";
 * docs/failover.md, "Forced failover and fencing"): one shard led by A with replicas B and C. Both
 * replicas are stopped, so A takes `w=1` writes no replica holds (not acknowledged: their outcome
 * is unknown), serves them and shows them to its watchers, at versions `0.N` above the fork. A is
 * killed and a forced failover promotes a replica that never had them.
 *
 * What it checks: the watcher that saw those writes resumes at the new leader from `0.N` and ends
 * with the new leader's state (the lost value reverted, the lost key gone), then follows its
 * writes; and a watch resumed from the same cursor once the new leader's own writes passed seq N
 * (the same seq, another epoch) gets a snapshot and ends at the leader's state too. In neither
 * does a version come twice or go back between snapshots (test/helpers/watch-view.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { failover } from '../../src/cli/failover.js';
import { DistkvClient } from '../../src/client/client.js';
import { parseVersion } from '../../src/routing/version.js';
import { clusterOf, storeOf, waitFor } from '../helpers/failover-model.js';
import { forkOf } from '../helpers/lin-fault-load.js';
import { Trio } from '../helpers/trio.js';
import { WatchView } from '../helpers/watch-view.js';

const PREFIX = 'wk:';

describe('a client watch through a forced failover that loses writes it saw', { timeout: 120000 }, () => {
  let trio: Trio;
  const clients: DistkvClient[] = [];
  const views: WatchView[] = [];

  before(async () => {
    trio = await Trio.start('watch-forced-fork');
    await trio.cluster.following();
  });

  after(async () => {
    for (const v of views) await v.stop();
    for (const c of clients) await c.close();
    await trio.stop();
  });

  it('ends at the new leader state, whether it resumes before or after the new leader passes its seq', async () => {
    const { cluster, client, A, B, C } = trio;
    await client.put(`${PREFIX}k`, 'kept', { w: 2, timeoutMs: 10000 });
    await client.put(`${PREFIX}also`, 'kept', { w: 2, timeoutMs: 10000 });
    const live = new WatchView(client, PREFIX, '0.0');
    views.push(live);
    await waitFor('the watcher to see the acknowledged writes', () =>
      Promise.resolve(live.has(`${PREFIX}k`, 'kept') && live.has(`${PREFIX}also`, 'kept')),
    );

    // Both replicas stopped: A applies the next writes, shows them, and no replica can hold them.
    await cluster.stopNode(B);
    await cluster.stopNode(C);
    const lost = [
      client.put(`${PREFIX}k`, 'lost', { w: 1, timeoutMs: 1500 }).catch(() => undefined),
      client.put(`${PREFIX}gone`, 'lost', { w: 1, timeoutMs: 1500 }).catch(() => undefined),
    ];
    await waitFor('the watcher to see the writes no replica holds', () =>
      Promise.resolve(live.has(`${PREFIX}k`, 'lost') && live.has(`${PREFIX}gone`, 'lost')),
    );
    for (const p of lost)
      assert.equal(await p, undefined, 'a w=1 write no replica holds is not acknowledged');
    const sawLost = live.cursor;
    const seenSeq = parseVersion(live.versions[live.versions.length - 1]!)!.seq;

    await cluster.kill(A);
    await cluster.startNode(B);
    await cluster.startNode(C);
    const r = await failover({
      urls: [`http://${B}`, `http://${C}`],
      shard: 'shard-0',
      force: true,
      token: '',
      timeoutMs: 20000,
    });
    const fork = parseVersion(forkOf((await clusterOf(r.to)).map.shards[0]!))!;
    assert.ok(fork.seq < seenSeq, `the watcher saw seq ${seenSeq}, above the fork ${fork.seq}`);

    // The watcher running through it reverts what the failover undid.
    await live.reaches(r.to, PREFIX, 'the watch running through the failover');
    assert.equal(live.map.get(`${PREFIX}k`), 'kept');
    assert.equal(live.map.has(`${PREFIX}gone`), false);
    assert.ok(live.snapshots >= 1, 'the resume at the new leader began with a snapshot');

    // The new leader's writes pass the seqs the watcher saw (same seqs, another epoch).
    const writer = new DistkvClient({ urls: [`http://${B}`, `http://${C}`] });
    clients.push(writer);
    for (let i = 0; (await storeOf(r.to)).lastSeq <= seenSeq + 1; i++)
      await writer.put(`${PREFIX}new-${i}`, `v${i}`, { w: 1, timeoutMs: 10000 });
    await writer.put(`${PREFIX}k`, 'after', { w: 1, timeoutMs: 10000 });
    await live.reaches(r.to, PREFIX, 'the watch running through the failover, after new writes');

    // A watch resumed from the cursor that names the lost writes, now that the log holds other
    // writes at their seqs: it must not go on after them.
    const resumed = new WatchView(writer, PREFIX, sawLost);
    views.push(resumed);
    await resumed.reaches(r.to, PREFIX, 'the watch resumed from the lost cursor');
    assert.ok(resumed.snapshots >= 1, 'the resumed watch began with a snapshot');
    assert.deepEqual(live.problems, [], 'the running watch kept its promises');
    assert.deepEqual(resumed.problems, [], 'the resumed watch kept its promises');
  });
});
