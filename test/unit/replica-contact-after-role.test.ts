/**
 * A store that followed a leader, was promoted, and is demoted again (a failover back, as
 * `distkv failover --to` does) reports no contact with its new leader until that leader answers:
 * `/cluster` and `distkv cluster` read the positions its follower publishes (src/replication/lag.ts),
 * and a new follower publishes only once its first pull is answered or fails. Before, those
 * positions still held what the store's follower said before its promotion: `/cluster` showed it
 * `held`, then `starting` with a "last contact" from before it led (seconds old, and with another
 * leader), until the new follower's first pull.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { replicaLag } from '../../src/replication/lag.js';
import { Positions } from '../../src/replication/positions.js';
import { type HostedStore, ReplicationHost } from '../../src/replication/replication-host.js';
import type { StoreSpec } from '../../src/worker/messages.js';
import { openTestLsm } from '../helpers/lsm.js';
import { freePort } from '../helpers/ports.js';
import { inDir, localReplicaSpec } from '../helpers/replication-host.js';
import { tempDir } from '../helpers/temp-dir.js';

const PULL_WAIT_MS = 50;

describe('a store demoted after it led', () => {
  it('reports no contact with its new leader, not what it last heard before it led', async () => {
    const root = tempDir(after);
    const leaderSpec: StoreSpec = inDir(join(root, 'a'), 'leader');
    const replicaSpec = localReplicaSpec(join(root, 'b'), 1, '127.0.0.1:2', 0);
    const leader = await openTestLsm(leaderSpec.dir);
    const replica = await openTestLsm(replicaSpec.dir);
    await leader.put(Buffer.from('k'), Buffer.from('v'));
    const hosted = new Map<number, HostedStore>([
      [0, { spec: leaderSpec, store: leader }],
      [1, { spec: replicaSpec, store: replica }],
    ]);
    const positions = new Positions(new SharedArrayBuffer(Positions.bytesFor(2)));
    const host = new ReplicationHost(hosted, positions, undefined, (spec) => openTestLsm(spec.dir));
    const lagOf = () => replicaLag(positions, 1, undefined, PULL_WAIT_MS);
    host.start();
    try {
      const deadline = Date.now() + 10000;
      while (lagOf().state !== 'streaming' || lagOf().lastContactMsAgo === undefined) {
        assert.ok(Date.now() < deadline, `the replica did not stream: ${JSON.stringify(lagOf())}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      // A planned failover holds it, then promotes it.
      await host.holdFollowing(1, true, 60000);
      await host.setRole(1, { ...inDir(replicaSpec.dir, 'leader'), index: 1, node: replicaSpec.node });
      // What /cluster shows of it at a node that adopted the next map before its worker turned it over.
      assert.deepEqual(
        { state: lagOf().state, lastContactMsAgo: lagOf().lastContactMsAgo },
        { state: 'starting', lastContactMsAgo: undefined },
        'a leader keeps what its follower said before it led',
      );
      // Demoted again, following a leader that does not answer (yet): nothing listens on its port.
      const port = await freePort();
      const demoted: StoreSpec = {
        ...replicaSpec,
        replication: {
          ...replicaSpec.replication!,
          leaderAddress: `127.0.0.1:${port}`,
          leaderStore: undefined,
        },
      };
      await host.setRole(1, demoted);
      const right = lagOf();
      assert.equal(right.known, false);
      assert.equal(right.lastContactMsAgo, undefined, `contact from before it led: ${JSON.stringify(right)}`);
      while (lagOf().state !== 'disconnected') {
        assert.ok(
          Date.now() < deadline,
          `the new follower did not try its leader: ${JSON.stringify(lagOf())}`,
        );
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(lagOf().lastContactMsAgo, undefined, 'its new leader never answered');
    } finally {
      await host.stop();
      await hosted.get(1)!.store.close();
      await leader.close();
    }
  });
});
