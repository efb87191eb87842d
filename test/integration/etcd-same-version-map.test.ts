/**
 * A map in etcd of this node's version but with other entries: maps made apart from etcd (it lost
 * its data, and another node wrote its map). The node settles it by the merge rule of maps made
 * apart (src/coordination/map-sync.ts), writes the merge a version above both to etcd, adopts it
 * from there and says so in its log. Before, it ignored etcd's map without a word, and the nodes
 * routed with different maps at one version for good. Skipped only when no etcd binary exists.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Etcd3 } from 'etcd3';
import pino from 'pino';
import { EtcdKeyspace } from '../../src/coordination/etcd-keyspace.js';
import { initialLiveMap, type LiveMap } from '../../src/routing/live-map.js';
import { restartedMap } from '../../src/server/restart-epochs.js';
import { oneShardConfig, testCoordinator } from '../helpers/coordinator.js';
import { etcdMissing, TestEtcd } from '../helpers/etcd.js';

const TTL_MS = 1000;
const CLUSTER = 'same-version';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe(
  'a map in etcd of the same version with other entries',
  { timeout: 60000, skip: etcdMissing() },
  () => {
    let etcd: TestEtcd;
    before(async () => {
      etcd = await TestEtcd.start();
    });
    after(async () => {
      await etcd.stop();
    });

    it("is merged with this node's map, written back a version above both, adopted and logged", async () => {
      const config = oneShardConfig(etcd.url, CLUSTER, TTL_MS, '127.0.0.1:7001', ['127.0.0.1:7002']);
      const client = new Etcd3({ hosts: etcd.url });
      const keys = new EtcdKeyspace(client, CLUSTER, config.shards);
      // The node holds the config's map (version 1); etcd holds a version 1 with a restart epoch of
      // shard-0 made apart from it: a version 2 of it was lost with etcd's data, say.
      const theirs: LiveMap = {
        ...restartedMap(initialLiveMap(config.shards), new Map([[0, 4]])),
        version: 1,
      };
      await client.put(keys.mapKey).value(JSON.stringify(theirs));

      const lines: string[] = [];
      const sink = new Writable({
        write(chunk: Buffer, _enc, done) {
          lines.push(chunk.toString());
          done();
        },
      });
      const adopted: LiveMap[] = [];
      const coordinator = testCoordinator(
        config,
        CLUSTER,
        { role: 'leader', node: '127.0.0.1:7001', lastSeq: () => 4 },
        (m) => {
          adopted.push(m);
          return Promise.resolve();
        },
        pino({ level: 'warn' }, sink),
      );
      try {
        await coordinator.start();
        const expected = { ...theirs, version: 2 };
        for (let i = 0; i < 50 && adopted.length === 0; i++) await sleep(100);
        assert.deepEqual(
          JSON.parse((await client.get(keys.mapKey).string()) ?? 'null'),
          expected,
          'etcd holds the merge, a version above both',
        );
        assert.deepEqual(adopted, [expected], 'the node adopted the merge from etcd');
        const said = lines.filter((l) => l.includes(keys.mapKey) && l.includes('other shard entries'));
        assert.equal(said.length, 1, `one warning naming the key, got: ${lines.join('')}`);
      } finally {
        await coordinator.stop();
        client.close();
      }
    });
  },
);
