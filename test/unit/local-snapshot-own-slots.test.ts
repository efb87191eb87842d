/**
 * A replica on its leader's worker resyncs from LocalSource.snapshot, one in another process or on
 * another worker from `/_repl/snapshot` (ReplicationHost.snapshotPage). Both must copy the keys of
 * the shard's slots only: after a layout change the leader's store still holds keys of the slots
 * that left it (until a purge), which are not the shard's. LocalSource copied every key, so a
 * same-worker replica held them, and served them stale once a later layout gave it their slots.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { HostedStore } from '../../src/replication/replication-host.js';
import { slotOfBytes } from '../../src/routing/slot.js';
import { openTestLsm } from '../helpers/lsm.js';
import { dump } from '../helpers/replica-pair.js';
import { inDir, localReplicaSpec, testReplicationHost } from '../helpers/replication-host.js';
import { tempDir } from '../helpers/temp-dir.js';
import type { StoreSpec } from '../../src/worker/messages.js';

const b = (s: string): Buffer => Buffer.from(s);
/** The shard's slots after the layout change: the lower half; keys of the upper half were left behind. */
const SHARD = { idx: 0, name: 'shard-0', first: 0, last: 8191 };

describe("a same-worker replica's snapshot after a layout change", () => {
  it('copies only the keys of the shard slots, as /_repl/snapshot does', async () => {
    const root = tempDir(after);
    const leaderSpec: StoreSpec = { ...inDir(join(root, 'leader'), 'leader'), shard: SHARD };
    const replicaSpec: StoreSpec = {
      ...localReplicaSpec(join(root, 'replica'), 1, '127.0.0.1:2', 0),
      shard: SHARD,
    };
    const leader = await openTestLsm(leaderSpec.dir);
    const replica = await openTestLsm(replicaSpec.dir);
    for (let i = 1; i <= 200; i++) await leader.put(b(`k${i}`), b(`v${i}`));
    // Ahead of its leader with another history: the replica resyncs from the leader's snapshot.
    for (let i = 1; i <= 250; i++) await replica.put(b(`x${i}`), b(`y${i}`));
    const hosted = new Map<number, HostedStore>([
      [0, { spec: leaderSpec, store: leader }],
      [1, { spec: replicaSpec, store: replica }],
    ]);
    const host = testReplicationHost(hosted, (spec) => openTestLsm(spec.dir));
    const own = (key: string): boolean => slotOfBytes(b(key)) <= SHARD.last;
    const want = dump(leader).filter(([k]) => own(k));
    assert.ok(want.length > 0 && want.length < 200, 'the keys fall on both sides of the layout change');
    const served = JSON.stringify(
      host
        .snapshotPage(0, null, { limit: 100000, maxBytes: Infinity }, null)
        .entries.map((e) => [Buffer.from(e.key).toString('latin1'), Buffer.from(e.value).toString('latin1')]),
    );
    assert.equal(served, JSON.stringify(want), '/_repl/snapshot pages hold the own keys only');
    host.start();
    try {
      const deadline = Date.now() + 15000;
      let got = '';
      for (;;) {
        try {
          got = JSON.stringify(dump(hosted.get(1)!.store));
          if (host.statsOf(1).replicaState === 'streaming' && got === served) break;
        } catch (err) {
          got = (err as Error).message;
        }
        assert.ok(Date.now() < deadline, `the replica holds ${got.slice(0, 300)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      await host.stop();
      await hosted.get(1)!.store.close();
      await leader.close();
    }
  });
});
