/**
 * With etcd, a node restarted with a sharding.toml that removes its shard's current leader (past
 * epoch 0: it was failed over to) refuses to start, naming the shard, its leader and the failover
 * that moves it, and leaves its data directory as it was (src/server/removed-leaders.ts). Before,
 * it started from the config's leader in epoch 0: the other members, holding records of the later
 * epoch, refused that leader for good (STALE_LEADER), so the cluster never recovered by itself.
 * Following the message (the failover under the old file, then the new file) ends with a member
 * of the new file leading every record (the one it names, or the other if the restart outlasted
 * the lease). Skipped only when no etcd binary exists.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { etcdMissing } from '../helpers/etcd.js';
import { coordinationToml, EtcdTrio } from '../helpers/etcd-trio.js';
import { clusterOf, failoverTo, leaderSeenBy, waitFor } from '../helpers/failover-model.js';
import { writeConfig } from '../helpers/server-process.js';

describe('a config that removes the shard leader, with etcd', { timeout: 90000, skip: etcdMissing() }, () => {
  let trio: EtcdTrio;

  before(async () => {
    trio = await EtcdTrio.start('config-removes-leader');
  });

  after(async () => {
    await trio.stop();
  });

  it('is refused at start with the failover to run, and works after it', async () => {
    const { cluster, client, members, etcd } = trio;
    const [A, B, C] = members as [string, string, string];
    await cluster.following();
    await failoverTo(C);
    for (let i = 0; i < 10; i++)
      await client.put(`k${String(i)}`, `v${String(i)}`, { w: 2, timeoutMs: 10000 });
    const epoch = (await clusterOf(C)).shards[0]!.epoch;
    assert.ok(epoch > 0);
    const dir = join(trio.dir, 'edited');
    mkdirSync(dir);
    const edited = writeConfig(dir, [{ address: B, replicas: [A] }], coordinationToml(etcd.url));

    // B restarted with the file that drops C, still the leader: refused, with what to do.
    await cluster.stopNode(B);
    await assert.rejects(cluster.startNode(B, edited), (err: Error) => {
      assert.match(err.message, /CONFIG_INVALID/);
      assert.match(err.message, new RegExp(`shard-0 is led by ${C}`));
      assert.ok(
        err.message.includes(`distkv failover --shard shard-0 --to ${B}`),
        `the refusal names the failover: ${err.message}`,
      );
      return true;
    });

    // Its previous file still serves it, with its data; the move the message names, then the new file.
    await cluster.startNode(B);
    await failoverTo(B);
    await cluster.stopNode(C);
    for (const n of [A, B]) {
      await cluster.stopNode(n);
      await cluster.startNode(n, edited);
    }
    // Either member may lead by then: a leader restarting longer than the lease TTL is taken over.
    await waitFor(`${A} and ${B} to name one leader of the new file`, async () => {
      const [a, b] = [await leaderSeenBy(A), await leaderSeenBy(B)];
      return a === b && (a === A || a === B);
    });
    await client.put('after', 'v', { w: 1, timeoutMs: 10000 });
    for (let i = 0; i < 10; i++) assert.equal(await client.getString(`k${String(i)}`), `v${String(i)}`);
  });
});
