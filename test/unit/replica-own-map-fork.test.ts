/**
 * A replica that starts with records above a fork its own map already shows (its last record's
 * epoch ended below it: a newer epoch started at or below its last seq) must not claim its last
 * seq before its leader first answers: the worker published that seq at open, and a promotion's
 * hold answered it, so a campaign ranked the forked replica on records no leader of the new epoch
 * had, ahead of replicas holding the leader's. Until the leader answers (and tells the real fork,
 * if any), it claims at most the fork its map shows.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Positions, SLOT_LAST_SEQ, SLOT_STATE, FOLLOWER_STATES } from '../../src/replication/positions.js';
import { type HostedStore, ReplicationHost } from '../../src/replication/replication-host.js';
import type { StoreSpec } from '../../src/worker/messages.js';
import { openTestLsm } from '../helpers/lsm.js';
import { freePort } from '../helpers/ports.js';
import { localReplicaSpec } from '../helpers/replication-host.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('a replica whose own map shows it forked, before its leader answers', () => {
  it('claims at most the fork: published at start, and answered by a hold and a renewed hold', async () => {
    const root = tempDir(after);
    const local = localReplicaSpec(join(root, 'replica'), 0, '127.0.0.1:2', 0);
    const port = await freePort();
    // Its map: epoch 2 started at seq 4, so its records 4..6 of epoch 1 are above a fork at 3. Its leader is down.
    const spec: StoreSpec = {
      ...local,
      epoch: 2,
      history: [
        { epoch: 1, firstSeq: 1 },
        { epoch: 2, firstSeq: 4 },
      ],
      replication: { ...local.replication!, leaderAddress: `127.0.0.1:${port}`, leaderStore: undefined },
    };
    const before = await openTestLsm(spec.dir);
    before.replication.epoch = 1;
    for (let i = 1; i <= 6; i++) await before.put(Buffer.from(`k${i}`), Buffer.from(`v${i}`));
    await before.close();
    // Restarted: its log frames give its last record's epoch.
    const store = await openTestLsm(spec.dir);
    const positions = new Positions(new SharedArrayBuffer(Positions.bytesFor(1)));
    const hosted = new Map<number, HostedStore>([[0, { spec, store }]]);
    const host = new ReplicationHost(hosted, positions, undefined, (s) => openTestLsm(s.dir));
    // What the worker publishes when it opens a store (src/worker/worker-stores.ts).
    positions.set(0, SLOT_LAST_SEQ, store.lastSeq());
    host.start();
    try {
      assert.ok(
        positions.get(0, SLOT_LAST_SEQ) <= 3,
        `published ${positions.get(0, SLOT_LAST_SEQ)} at start`,
      );
      const deadline = Date.now() + 10000;
      while (FOLLOWER_STATES[positions.get(0, SLOT_STATE)] !== 'disconnected') {
        assert.ok(Date.now() < deadline, 'the replica did not find its leader down');
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(
        positions.get(0, SLOT_LAST_SEQ) <= 3,
        `published ${positions.get(0, SLOT_LAST_SEQ)} after a failed pull`,
      );
      assert.equal(await host.holdFollowing(0, true, 60000), 3, 'a hold answered its last seq');
      assert.equal(await host.holdFollowing(0, true, 60000), 3, 'a renewed hold answered its last seq');
    } finally {
      await host.stop();
      await store.close();
    }
  });
});
