/**
 * With etcd, a leader stopped gracefully (SIGTERM, as in a rolling restart) under a write load
 * hands its shard over without losing an acknowledged write (src/server/drain-handover.ts).
 * Before, it gave its lease back first and closed its front door, so its replicas could not pull
 * its last records, and one took the shard over without them: every stop lost a few acknowledged
 * writes (the default, `w=0`), later kept only in the old leader's divergence file, and reads at
 * the new leader answered older values. Skipped only when no etcd binary exists.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { etcdMissing } from '../helpers/etcd.js';
import { EtcdTrio } from '../helpers/etcd-trio.js';
import { dumpAt, Load } from '../helpers/failover-model.js';

describe('a leader stopped with SIGTERM, with etcd', { timeout: 90000, skip: etcdMissing() }, () => {
  let trio: EtcdTrio;

  before(async () => {
    trio = await EtcdTrio.start('graceful-handover');
  });

  after(async () => {
    await trio.stop();
  });

  it('hands the shard over with every write it acknowledged', async (t) => {
    const { cluster, client, members } = trio;
    const [A] = members as [string, string, string];
    await cluster.following();
    const load = new Load(client, 'k', 8, 200_000, 0, 30_000);
    try {
      await load.until(300);
      await cluster.stopNode(A);
      await trio.newLeader(A, 20000);
      const before = load.acked.size;
      await load.until(before + 100);
    } finally {
      await load.stop();
    }
    // No write failed for want of a leader: the stop waits for etcd to name the new one and adopts
    // its map (src/coordination/successor-wait.ts), and a client routes once more when the map
    // names another leader than the one it tried (src/client/client.ts). Before, the front door
    // closed as the lease went, and 16 to 48 writes of 8 writers failed SHARD_UNREACHABLE
    // ("nothing listens there") in each of 6 runs. Writes cut off unanswered (OutcomeUnknownError:
    // 2, 2 and 8 in 3 of 9 runs, "other side closed") are counted below, not asserted: an idle
    // connection ended as a retry went out on it, and the listener's close reset connections the
    // kernel had accepted; a 503 DRAINING now closes its connection (route.ts) and the listener
    // stays open until clients have left (node-drain.ts): 0 in 8 runs.
    t.diagnostic(`${String(load.failed - load.unsentFailed)} writes of unknown outcome`);
    assert.equal(
      load.unsentFailed,
      0,
      `${String(load.unsentFailed)} writes failed unsent across the graceful stop: ${JSON.stringify([...load.why])}`,
    );
    const leader = await trio.newLeader(A);
    const held = await dumpAt(leader);
    const missing = [...load.acked].filter(([k, v]) => held.get(k) !== v).map(([k]) => k);
    assert.deepEqual(
      missing,
      [],
      `${String(missing.length)} of ${String(load.acked.size)} acknowledged writes missing at the new leader ${leader}`,
    );
  });
});
