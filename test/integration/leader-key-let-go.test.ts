/**
 * A leader that lets its leader key go because the map in etcd names another leader (a planned
 * failover; docs/failover.md, "Automatic failover with etcd") no longer says it may write the shard.
 * Before, `mayWrite` stayed true after the key was deleted: harmless while its store was a replica
 * (the worker refuses writes there), but a later map naming it leader again made it take writes
 * at once, before its reconcile took the key back, while the node holding the key took them too.
 * Skipped only when no etcd binary exists.
 */
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { after, before, describe, it } from 'node:test';
import { initialLiveMap, promotedMap } from '../../src/routing/live-map.js';
import { oneShardConfig, testCoordinator } from '../helpers/coordinator.js';
import { etcdMissing, TestEtcd } from '../helpers/etcd.js';
import { waitFor } from '../helpers/failover-model.js';

const TTL_MS = 1000;
const L = '127.0.0.1:7301';
const R = '127.0.0.1:7302';
const CLUSTER = 'let-go';

describe(
  'a leader letting its key go for a planned failover',
  { timeout: 60000, skip: etcdMissing() },
  () => {
    let etcd: TestEtcd;
    before(async () => {
      etcd = await TestEtcd.start();
    });
    after(async () => {
      await etcd.stop();
    });

    it('may not write the shard once its key is gone', async () => {
      const config = oneShardConfig(etcd.url, CLUSTER, TTL_MS, L, [R]);
      const leader = testCoordinator(config, CLUSTER, { role: 'leader', node: L, lastSeq: () => 5 });
      const client = new Etcd3({ hosts: etcd.url });
      const leaderKey = `/distkv/${CLUSTER}/leader/shard-0`;
      try {
        await leader.start();
        assert.equal(leader.mayWrite(0), true, 'it leads');
        // The planned failover's map, stored in etcd: R leads in epoch 1.
        const moved = promotedMap(initialLiveMap(config.shards), 0, R, 1, 5);
        await client.put(`/distkv/${CLUSTER}/map`).value(JSON.stringify(moved));
        await waitFor('the old leader to let its key go', async () => (await client.get(leaderKey)) === null);
        assert.equal(leader.mayWrite(0), false, 'no key, no writes');
      } finally {
        await leader.stop();
        client.close();
      }
    });
  },
);
