/**
 * GET /cluster's `leader.writes_held` at a node that does not lead the shard, with etcd
 * coordination on. The field says the shard's leader holds its writes (a failover's fence, a leader
 * behind its replica, a lapsed lease): tests and operators read it as "the leader takes writes"
 * when it is absent. Asked at the leader it is right; asked at any other member it is `true` for
 * as long as the shard is led elsewhere, because the flag is computed from this node's own
 * coordination state (it holds no leader key for the shard), not the leader's. Without etcd the
 * same document at a replica leaves the field out. Skipped only when no etcd binary exists.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { etcdMissing } from '../helpers/etcd.js';
import { EtcdTrio } from '../helpers/etcd-trio.js';
import { clusterOf, leaderSeenBy, putAt, waitFor } from '../helpers/failover-model.js';

describe(
  'GET /cluster at a member that does not lead, with etcd',
  { timeout: 120000, skip: etcdMissing() },
  () => {
    let trio: EtcdTrio;

    before(async () => {
      trio = await EtcdTrio.start('cluster-remote-held');
    });

    after(async () => {
      await trio.stop();
    });

    it('does not call a leader that takes writes held', async () => {
      const { members } = trio;
      let leader = '';
      await waitFor('a leader to hold its lease', async () => {
        leader = (await leaderSeenBy(members[0]!)) ?? '';
        return leader !== '' && (await clusterOf(leader)).shards[0]!.leader.writes_held !== true;
      });
      // The leader takes a write now: nothing holds its writes.
      assert.equal(await putAt(leader, 'remote-held-probe'), 204);
      for (const m of members.filter((x) => x !== leader)) {
        await waitFor(`${m} to name ${leader} leader`, async () => (await leaderSeenBy(m)) === leader);
        const seen = (await clusterOf(m)).shards[0]!.leader;
        assert.equal(seen.address, leader);
        assert.notEqual(
          seen.writes_held,
          true,
          `${m}'s /cluster says the leader ${leader} holds its writes, while it takes them`,
        );
      }
    });
  },
);
