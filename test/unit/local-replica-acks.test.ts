/**
 * A replica on its leader's worker acks to that leader's current state (src/replication/
 * replication-host.ts): its follower reads the leader store directly and tells the leader's
 * LeaderState each position it publishes, which `w=N` writes count. A role change turns the
 * worker's stores over one by one, in store order: an old leader demoted before the replica that
 * is promoted in its place started following a store that led nothing yet, and kept telling
 * nobody; the new leader never counted it, and its `w=N` writes timed out (504) while the replica
 * held them.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MemoryLog } from '../../src/storage/memory-log.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import type { StoreSpec } from '../../src/worker/messages.js';
import { inDir, localReplicaSpec, testReplicationHost } from '../helpers/replication-host.js';
import { tempDir } from '../helpers/temp-dir.js';

const A = '127.0.0.1:1';
const B = '127.0.0.1:2';

describe('a replica on the worker of the store promoted in its place', () => {
  it('counts for w=1 on the new leader, whichever of the two turned over first', async () => {
    const root = tempDir(after);
    const leaderSpec: StoreSpec = { ...inDir(join(root, 'a'), 'leader'), index: 0, node: A };
    const replicaSpec = localReplicaSpec(join(root, 'b'), 1, B, 0);
    const a = new MemoryStore(Date.now, new MemoryLog());
    const b = new MemoryStore(Date.now, new MemoryLog());
    const host = testReplicationHost(
      new Map([
        [0, { spec: leaderSpec, store: a }],
        [1, { spec: replicaSpec, store: b }],
      ]),
    );
    host.start();
    after(() => host.stop());
    const first = await a.put(Buffer.from('k1'), Buffer.from('v1'));
    assert.equal(await host.waitForAcks(0, first.seq, 1, 3000), 1, 'b counts for a');

    // A failover to b, as the map keeper turns the stores over: a (store 0) first, then b.
    await host.setRole(0, {
      ...leaderSpec,
      role: 'replica',
      replication: { ...replicaSpec.replication!, leaderAddress: B, leaderStore: 1 },
    });
    await host.setRole(1, { ...replicaSpec, role: 'leader' });
    const next = await b.put(Buffer.from('k2'), Buffer.from('v2'));
    assert.equal(
      await host.waitForAcks(1, next.seq, 1, 3000),
      1,
      'a, following b on its worker, was not counted for w=1',
    );
  });
});
