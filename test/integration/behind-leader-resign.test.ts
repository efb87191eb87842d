/**
 * A leader held behind its replica (src/server/behind-leaders.ts) gives up its leader key on etcd's
 * word only (src/coordination/behind-resign.ts): while no other member published a seq above its
 * own, as when the sighting was a forged pull, it keeps the key; once one did, it deletes the key
 * so the campaign promotes that member, and does not take it back. Skipped only when no etcd
 * binary exists.
 */
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { EtcdKeyspace } from '../../src/coordination/etcd-keyspace.js';
import { oneShardConfig, testCoordinator } from '../helpers/coordinator.js';
import { etcdMissing, TestEtcd } from '../helpers/etcd.js';
import { waitFor } from '../helpers/failover-model.js';

const TTL_MS = 1000;
const TICK_MS = TTL_MS / 4;
const L = '127.0.0.1:7311';
const R = '127.0.0.1:7312';
const CLUSTER = 'behind-resign';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('a leader held behind its replica, with etcd', { timeout: 60000, skip: etcdMissing() }, () => {
  let etcd: TestEtcd;
  before(async () => {
    etcd = await TestEtcd.start();
  });
  after(async () => {
    await etcd.stop();
  });

  it('keeps its key on a sighting alone, and gives it up once a member publishes a seq above its own', async () => {
    const config = oneShardConfig(etcd.url, CLUSTER, TTL_MS, L, [R]);
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (s: string) => void lines.push(s) });
    const behind = { replica: R, seq: 50, leaderSeq: 3 };
    const leader = testCoordinator(
      config,
      CLUSTER,
      { role: 'leader', node: L, lastSeq: () => 3, behind: () => behind },
      undefined,
      log,
    );
    const client = new Etcd3({ hosts: etcd.url });
    const keys = new EtcdKeyspace(client, CLUSTER, config.shards);
    const leaderKey = keys.leaderKey('shard-0');
    const rLease = client.lease(30);
    try {
      await leader.start();
      await sleep(4 * TICK_MS);
      assert.equal(await client.get(leaderKey), L, 'no member published: the key is kept');
      await rLease.put(keys.seqKey('shard-0', R)).value('3');
      await sleep(4 * TICK_MS);
      assert.equal(await client.get(leaderKey), L, "a member at the leader's own seq: the key is kept");
      assert.equal(leader.mayWrite(0), true);

      await rLease.put(keys.seqKey('shard-0', R)).value('50');
      await waitFor(
        'the held leader to give up its key',
        async () => (await client.get(leaderKey)) === null,
        10000,
      );
      assert.equal(leader.mayWrite(0), false, 'no key, no writes');
      await sleep(4 * TICK_MS);
      assert.equal(await client.get(leaderKey), null, 'it does not take the key back');
      const said = lines.filter((l) => l.includes('gives up the leader key'));
      assert.equal(said.length, 1, 'said once');
      assert.match(said[0]!, new RegExp(`${R} published seq 50 in etcd, above this store's 3`));
    } finally {
      await leader.stop();
      await rLease.revoke().catch(() => undefined);
      client.close();
    }
  });
});
