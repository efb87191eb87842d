/**
 * A map that forks a demoted store below records it can no longer save (compacted out of its log:
 * saveDiverged throws CORRUPTION) must not fail the whole role change (ReplicationHost.setRole):
 * thrown, it rejected the map keeper's adoption of the map, so the other shards' role changes of
 * that map were not applied. The store is kept as it is (not rebuilt over records nobody saved),
 * acks at most the fork, and /stats shows why it does not follow.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SLOT_LAST_SEQ } from '../../src/replication/positions.js';
import type { HostedStore } from '../../src/replication/replication-host.js';
import type { StoreSpec } from '../../src/worker/messages.js';
import { openTestLsm } from '../helpers/lsm.js';
import { dump } from '../helpers/replica-pair.js';
import { inDir, localReplicaSpec, testReplicationHost } from '../helpers/replication-host.js';
import { tempDir } from '../helpers/temp-dir.js';

const b = (s: string): Buffer => Buffer.from(s);
const HISTORY = [
  { epoch: 1, firstSeq: 1 },
  { epoch: 2, firstSeq: 4 },
];

describe('a demoted store forked below records its log no longer holds', () => {
  it('is kept as it is and reported, and the role change itself succeeds', async () => {
    const root = tempDir(after);
    // Store 0 leads epoch 2 from seq 4 on; store 1 led epoch 1 and wrote 4..6 nobody followed.
    const leaderSpec: StoreSpec = { ...inDir(join(root, 'new'), 'leader'), epoch: 2, history: HISTORY };
    const oldSpec: StoreSpec = {
      ...inDir(join(root, 'old'), 'leader'),
      index: 1,
      epoch: 1,
      history: [HISTORY[0]!],
    };
    const leader = await openTestLsm(leaderSpec.dir);
    const old = await openTestLsm(oldSpec.dir);
    old.replication.epoch = 1;
    for (let i = 1; i <= 6; i++) await old.put(b(`k${i}`), b(i <= 3 ? `v${i}` : `lost${i}`));
    leader.replication.epoch = 1;
    for (let i = 1; i <= 3; i++) await leader.put(b(`k${i}`), b(`v${i}`));
    leader.replication.epoch = 2;
    for (let i = 4; i <= 5; i++) await leader.put(b(`k${i}`), b(`new${i}`));
    // Its log no longer holds the records above the fork (compacted away).
    old.replication.readLog = () => 'gone';
    const hosted = new Map<number, HostedStore>([
      [0, { spec: leaderSpec, store: leader }],
      [1, { spec: oldSpec, store: old }],
    ]);
    const host = testReplicationHost(hosted, (spec) => openTestLsm(spec.dir));
    host.start();
    const before = JSON.stringify(dump(old));
    try {
      const replicaSpec: StoreSpec = {
        ...localReplicaSpec(oldSpec.dir, 1, '127.0.0.1:2', 0),
        epoch: 2,
        history: HISTORY,
      };
      await host.setRole(1, replicaSpec, { seq: 3, epoch: 2 });
      const deadline = Date.now() + 10000;
      let stats = host.statsOf(1);
      while (typeof stats.lastError !== 'string') {
        assert.ok(Date.now() < deadline, `no error reported: ${JSON.stringify(stats)}`);
        await new Promise((r) => setTimeout(r, 20));
        stats = host.statsOf(1);
      }
      assert.match(stats.lastError, /no longer in the log/);
      assert.equal(stats.replicaState, 'disconnected');
      assert.equal(hosted.get(1)!.store, old, 'the store was rebuilt over records nobody saved');
      assert.equal(JSON.stringify(dump(old)), before);
      assert.ok(
        host['positions'].get(1, SLOT_LAST_SEQ) <= 3,
        `it acked ${host['positions'].get(1, SLOT_LAST_SEQ)}, above the fork`,
      );
    } finally {
      await host.stop();
      await hosted.get(1)!.store.close();
      await leader.close();
    }
  });
});
