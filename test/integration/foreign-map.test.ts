/**
 * Two clusters with different configs may share a prefix in etcd only through an explicit
 * `[coordination] cluster` (the default is the topology hash). A node whose config the map in etcd
 * does not fit must not write its own map over it (the two clusters would overwrite each other's
 * maps) nor take part in coordination under that prefix: it logs an error naming the key and what
 * does not fit, serves with its own map, and takes no leader key. Skipped only when no etcd binary
 * exists.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Etcd3 } from 'etcd3';
import pino from 'pino';
import { EtcdKeyspace } from '../../src/coordination/etcd-keyspace.js';
import { initialLiveMap } from '../../src/routing/live-map.js';
import { oneShardConfig, testCoordinator } from '../helpers/coordinator.js';
import { etcdMissing, TestEtcd } from '../helpers/etcd.js';

const TTL_MS = 1000;
const CLUSTER = 'shared-name';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('a map in etcd that does not fit the config', { timeout: 60000, skip: etcdMissing() }, () => {
  let etcd: TestEtcd;
  before(async () => {
    etcd = await TestEtcd.start();
  });
  after(async () => {
    await etcd.stop();
  });

  it('is neither overwritten nor coordinated through: the node logs an error and keeps its own map', async () => {
    const config = oneShardConfig(etcd.url, CLUSTER, TTL_MS, '127.0.0.1:7001', ['127.0.0.1:7002']);
    const other = oneShardConfig(etcd.url, CLUSTER, TTL_MS, '127.0.0.1:7101', ['127.0.0.1:7102']);
    const client = new Etcd3({ hosts: etcd.url });
    const keys = new EtcdKeyspace(client, CLUSTER, config.shards);
    // The other cluster's map, older than this node's: without the refusal it would be replaced.
    const theirs = JSON.stringify({ ...initialLiveMap(other.shards), version: 0 });
    await client.put(keys.mapKey).value(theirs);

    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const coordinator = testCoordinator(
      config,
      CLUSTER,
      { role: 'leader', node: '127.0.0.1:7001', lastSeq: () => 0 },
      undefined,
      pino({ level: 'error' }, sink),
    );
    try {
      await coordinator.start();
      await sleep(TTL_MS);
      assert.equal(await client.get(keys.mapKey).string(), theirs, "the other cluster's map was overwritten");
      assert.equal(await client.get(keys.leaderKey('shard-0')).string(), null, 'a leader key was taken');
      assert.equal(coordinator.mayWrite(0), false);
      await assert.rejects(coordinator.publish(initialLiveMap(config.shards)), {
        code: 'CONFIG_MISMATCH',
        message: /does not fit this node's config/,
      });
      assert.equal(
        await client.get(keys.mapKey).string(),
        theirs,
        "publish overwrote the other cluster's map",
      );
      const errors = lines.filter((l) => l.includes(keys.mapKey) && l.includes('does not fit'));
      assert.equal(errors.length, 1, `one error naming the key, got: ${lines.join('')}`);
      assert.match(errors[0]!, /"level":50/);
    } finally {
      await coordinator.stop();
      client.close();
    }
  });
});
