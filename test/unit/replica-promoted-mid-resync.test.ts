/**
 * A replica promoted (a forced failover) in the middle of its resync holds part of a leader
 * snapshot at most: its slot answers UNAVAILABLE (ResyncingStore) and it has no replication seam,
 * so ReplicationHost.startLeader skipped it without a word: the shard answered 503 and nothing said
 * why. It must say so, in the log and in its /stats (`leaderError`), and lead nothing.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { writeDurableJson } from '../../src/replication/durable-json.js';
import type { HostedStore } from '../../src/replication/replication-host.js';
import { RESYNC_MARKER } from '../../src/replication/resync-marker.js';
import { ResyncingStore } from '../../src/replication/resyncing-store.js';
import type { StoreSpec } from '../../src/worker/messages.js';
import { openTestLsm } from '../helpers/lsm.js';
import { freePort } from '../helpers/ports.js';
import { localReplicaSpec, testReplicationHost } from '../helpers/replication-host.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('a replica promoted in the middle of its resync', () => {
  it('leads nothing and says why in its stats', async () => {
    const root = tempDir(after);
    const local = localReplicaSpec(join(root, 'replica'), 0, '127.0.0.1:2', 0);
    // Its leader, in another process, is down: the resync cannot finish.
    const port = await freePort();
    const spec: StoreSpec = {
      ...local,
      replication: { ...local.replication!, leaderAddress: `127.0.0.1:${port}`, leaderStore: undefined },
    };
    const store = await openTestLsm(spec.dir);
    for (let i = 1; i <= 5; i++) await store.put(Buffer.from(`k${i}`), Buffer.from(`v${i}`));
    writeDurableJson(join(spec.dir, RESYNC_MARKER), { loading: true });
    const hosted = new Map<number, HostedStore>([[0, { spec, store }]]);
    const host = testReplicationHost(hosted, (s) => openTestLsm(s.dir));
    host.start();
    try {
      assert.ok(hosted.get(0)!.store instanceof ResyncingStore);
      await host.setRole(0, { ...spec, role: 'leader', epoch: 2, history: [{ epoch: 2, firstSeq: 6 }] });
      assert.ok(hosted.get(0)!.store instanceof ResyncingStore, 'it serves the partial snapshot');
      assert.match(JSON.stringify(host.statsOf(0)), /promoted while it resyncs/);
      assert.throws(() => host.seedNext([0]), /not a replicating leader/);
    } finally {
      await host.stop();
      await store.close();
    }
  });
});
