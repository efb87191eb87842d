/**
 * Without a coordinator, a node restarted with a sharding.toml that removes its shard's current
 * leader (past epoch 0: it was failed over to) refuses to start, naming the shard, its leader and
 * the failover that moves it (src/server/removed-leaders.ts); its previous file still serves it.
 * Before, it started the config's leader in epoch 0, which the other members, holding records of
 * the later epoch, refused for good (STALE_LEADER). The etcd twin:
 * test/e2e/etcd-config-removes-leader.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { TestCluster } from '../helpers/cluster.js';
import { failoverTo, leaderSeenBy } from '../helpers/failover-model.js';
import { freeNodeAddress } from '../helpers/resp.js';
import { writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('a config that removes the shard leader, without etcd', { timeout: 60000 }, () => {
  let cluster: TestCluster;
  let client: DistkvClient;
  let members: string[];
  const dir = tempDir(after, 'distkv-config-removes-leader-');

  before(async () => {
    members = await Promise.all(['127.0.0.1', '127.0.0.2', '127.0.0.3'].map((h) => freeNodeAddress(h)));
    cluster = await TestCluster.start({
      dir,
      shards: [{ address: members[0]!, replicas: members.slice(1) }],
    });
    client = new DistkvClient({ urls: members.map((m) => `http://${m}`), timeoutMs: 3000 });
  });

  after(async () => {
    await client.close();
    await cluster.stop();
  });

  it('is refused at start, and the previous file still serves', async () => {
    const [A, B, C] = members as [string, string, string];
    await cluster.following();
    await failoverTo(C);
    await client.put('k', 'v', { w: 2, timeoutMs: 10000 });
    const edited = join(dir, 'edited');
    mkdirSync(edited);
    const file = writeConfig(edited, [{ address: B, replicas: [A] }]);
    await cluster.stopNode(B);
    await assert.rejects(cluster.startNode(B, file), (err: Error) => {
      assert.match(err.message, /CONFIG_INVALID/);
      assert.match(err.message, new RegExp(`shard-0 is led by ${C}`));
      assert.ok(err.message.includes(`distkv failover --shard shard-0 --to ${B}`), err.message);
      return true;
    });
    await cluster.startNode(B);
    assert.equal(await leaderSeenBy(B), C);
    await client.put('k2', 'v2', { w: 2, timeoutMs: 10000 });
    assert.equal(await client.getString('k'), 'v');
  });
});
