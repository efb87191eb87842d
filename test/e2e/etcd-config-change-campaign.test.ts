/**
 * With etcd, a replica restarted with an edited sharding.toml (a replica added: the first step of
 * a rolling change) does not take over a shard whose leader still runs the old file
 * (src/coordination/config-peers.ts). The keys live under the config's hash, so the restarted
 * replica finds no leader key under its own and, before, campaigned and led the shard within
 * seconds while the old leader went on leading it under the old keys: its reads answered the
 * replica's old copy, and the old leader's writes went to its divergence file once it restarted
 * with the new file. Skipped only when no etcd binary exists.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { etcdMissing } from '../helpers/etcd.js';
import { coordinationToml, EtcdTrio, TRIO_TTL_MS } from '../helpers/etcd-trio.js';
import { leaderSeenBy, waitFor } from '../helpers/failover-model.js';
import { freeNodeAddress } from '../helpers/resp.js';
import { writeConfig } from '../helpers/server-process.js';

/** WATCH_MS is how long the restarted replica is watched: several times what its campaign took before. */
const WATCH_MS = 4 * TRIO_TTL_MS;

describe(
  'a replica restarted with an edited config, with etcd',
  { timeout: 90000, skip: etcdMissing() },
  () => {
    let trio: EtcdTrio;

    before(async () => {
      trio = await EtcdTrio.start('config-change-campaign');
    });

    after(async () => {
      await trio.stop();
    });

    it('leaves the shard to its leader still on the old file', async () => {
      const { cluster, client, members, etcd } = trio;
      const [A, B, C] = members as [string, string, string];
      await cluster.following();
      await client.put('before', 'v1', { w: 2, timeoutMs: 10000 });
      const dir = join(trio.dir, 'edited');
      mkdirSync(dir);
      const D = await freeNodeAddress('127.0.0.4');
      const edited = writeConfig(dir, [{ address: A, replicas: [B, C, D] }], coordinationToml(etcd.url));
      await cluster.stopNode(B);
      await cluster.startNode(B, edited);
      await waitFor(`${B} to answer`, async () => (await leaderSeenBy(B)) !== undefined);
      const until = performance.now() + WATCH_MS;
      while (performance.now() < until) {
        assert.equal(await leaderSeenBy(B), A, `${B} (edited file) names another leader than ${A}`);
        assert.equal(await leaderSeenBy(A), A);
        await new Promise((r) => setTimeout(r, 100));
      }
      await client.put('after', 'v2');
      assert.equal(await client.getString('after'), 'v2');
    });
  },
);
