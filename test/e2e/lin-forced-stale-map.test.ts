/**
 * A client whose map still names a leader that a forced failover replaced reads that node, which
 * now follows the new leader as a replica (docs/api.md, "Write concern and what reads see"; the
 * client library reads leaders only unless made with `replicaReads`). Before, the replica
 * answered the read from its own store, with X-Distkv-Lag, and the client returned that answer as
 * the leader's: a value older than a write the new leader had acknowledged, and the history was
 * not linearizable. The client now takes a read that a replica served, when it asked the leader,
 * as a sign its map is stale: it looks for the newest map and reads the leader it names.
 *
 * Made deterministic: the old leader A, back after kill -9 and a forced failover, has its
 * following held (`POST /_admin/fence` on a replica), so it stays behind the new leader's write.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { failover } from '../../src/cli/failover.js';
import { storeOf, waitFor } from '../helpers/failover-model.js';
import { HistoryRecorder } from '../helpers/history-recorder.js';
import { failoverOps, forkAt } from '../helpers/lin-fault-load.js';
import { checkHistory } from '../helpers/linearizability.js';
import { Trio } from '../helpers/trio.js';

describe('a client with a stale map after a forced failover', { timeout: 120000 }, () => {
  let trio: Trio;
  const clients: DistkvClient[] = [];

  before(async () => {
    trio = await Trio.start('lin-forced-stale-map');
    await trio.cluster.following();
  });

  after(async () => {
    for (const c of clients) await c.close();
    await trio.stop();
  });

  it('reads the new leader, not the old leader now a replica behind it', async () => {
    const { cluster, client, A, B, C } = trio;
    const urls = trio.members.map((m) => `http://${m}`);
    const stale = new DistkvClient({ urls, timeoutMs: 3000 });
    clients.push(stale);
    const rec = new HistoryRecorder();
    const key = 'lf-stale';
    assert.ok(typeof (await rec.put(client, 'w', key, 'old', { w: 2, timeoutMs: 5000 })) === 'object');
    // The stale client loads the map naming A and reads the key there.
    assert.equal((await rec.get(stale, 'stale', key))?.value, 'old');
    const killedAt = performance.now();
    await cluster.kill(A);
    const r = await failover({
      urls: [`http://${B}`, `http://${C}`],
      shard: 'shard-0',
      force: true,
      token: '',
      timeoutMs: 20000,
    });
    const promotedAt = performance.now();
    const { fork, epoch } = await forkAt(r.to);
    // A comes back as a replica of the new leader; its following held, it stays where it is.
    await cluster.startNode(A);
    await waitFor(`${A} to follow ${r.to}`, async () => (await storeOf(A)).role === 'replica');
    const held = await fetch(`http://${A}/_admin/fence?shard=0&on=1&ms=30000`, { method: 'POST' });
    assert.equal(held.status, 200, await held.text());
    const fresh = new DistkvClient({ urls: [`http://${r.to}`], timeoutMs: 3000 });
    clients.push(fresh);
    assert.ok(typeof (await rec.put(fresh, 'w', key, 'new', { w: 1, timeoutMs: 5000 })) === 'object');
    // The stale client, its map still naming A, reads the key.
    assert.ok(
      stale.liveMapVersion < r.mapVersion,
      'the stale client still routes with the map from before the failover',
    );
    const got = await rec.get(stale, 'stale', key);
    const verdict = checkHistory([...rec.ops, ...failoverOps([key], killedAt, promotedAt, fork, epoch)]);
    assert.ok(verdict.ok, verdict.ok ? '' : verdict.report);
    assert.equal(got?.value, 'new', 'the read saw the new leader');
    assert.ok(stale.liveMapVersion >= r.mapVersion, 'the client took the newer map');
  });
});
