/**
 * A promotion through etcd (`publishPromotion`, src/coordination/etcd-keyspace.ts) is built on the
 * map etcd holds when it is stored. When that map is older than the promoting node's own (etcd
 * restored from an older snapshot, or a node behind wrote its map after etcd lost its data, while
 * the campaign held its store), the promotion was built on it anyway: a version the node's own
 * map already passed. The node refused to adopt it (its keeper takes only newer versions), yet the
 * coordinator counted the promotion as done: a leader owing a new epoch after an unclean stop took
 * writes in its old epoch, under its old map, for good (the new epoch was forgotten); and nodes
 * behind adopted a map that rolled other shards back. A promotion now stands down when etcd's map
 * is older than the node's (the node writes its own there first, and campaigns again on it), and
 * the coordinator counts a promotion only once its own map names the promoted leader in the new
 * epoch. Skipped only when no etcd binary exists.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Etcd3 } from 'etcd3';
import pino from 'pino';
import { type CoordinatedKeeper, EtcdCoordinator } from '../../src/coordination/etcd-coordinator.js';
import { EtcdKeyspace } from '../../src/coordination/etcd-keyspace.js';
import { Positions } from '../../src/replication/positions.js';
import { initialLiveMap, type LiveMap, parseLiveMap } from '../../src/routing/live-map.js';
import type { NodePlan } from '../../src/server/node-plan.js';
import type { WorkerPool } from '../../src/server/worker-pool.js';
import type { ToWorker } from '../../src/worker/messages.js';
import { oneShardConfig } from '../helpers/coordinator.js';
import { etcdMissing, TestEtcd } from '../helpers/etcd.js';
import { inDir } from '../helpers/replication-host.js';
import { tempDir } from '../helpers/temp-dir.js';

const TTL_MS = 1000;
const L = '127.0.0.1:7501';
const R = '127.0.0.1:7502';
const CLUSTER = 'promotion-base';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('a promotion stored over an older map in etcd', { timeout: 60000, skip: etcdMissing() }, () => {
  let etcd: TestEtcd;
  before(async () => {
    etcd = await TestEtcd.start();
  });
  after(async () => {
    await etcd.stop();
  });

  it('a leader owing a new epoch takes no write in its old epoch, and etcd never goes below its map', async () => {
    const config = oneShardConfig(etcd.url, CLUSTER, TTL_MS, L, [R]);
    const client = new Etcd3({ hosts: etcd.url });
    const keys = new EtcdKeyspace(client, CLUSTER, config.shards);
    // The node's map is version 5; etcd, rolled back while the restarted leader holds its store
    // for its new epoch, has version 3 of it (one shard here: the versions between moved others).
    const mine: LiveMap = { ...initialLiveMap(config.shards), version: 5 };
    const older: LiveMap = { ...mine, version: 3 };
    let current = mine;
    const refused: LiveMap[] = [];
    const keeper = {
      get current() {
        return current;
      },
      // No leader here is held behind a replica (behind-resign.ts).
      behindOf: () => undefined,
      // As MapKeeper does with a coordinator: only a newer version is taken.
      offer: (doc: unknown) => {
        const map = parseLiveMap(doc, config.shards);
        if (map.version <= current.version) {
          refused.push(map);
          return Promise.resolve(false);
        }
        current = map;
        return Promise.resolve(true);
      },
      // Its store leads: no replica hold is ever asked of the keeper (`holds`).
    } satisfies Omit<CoordinatedKeeper, 'holds'> as unknown as CoordinatedKeeper;
    let rolledBack = false;
    const call = async (msg: ToWorker): Promise<unknown> => {
      if (msg.type === 'fence' && msg.on && !rolledBack) {
        await client.put(keys.mapKey).value(JSON.stringify(older)).exec();
        rolledBack = true;
      }
      return { type: 'fence-result', id: 0, ok: true, lastSeq: 9 };
    };
    const spec = { ...inDir(tempDir(after), 'leader'), node: L, worker: 0 };
    const plan = {
      stores: [spec],
      listeners: [],
      storesByWorker: [[spec]],
      workers: 1,
    } as unknown as NodePlan;
    const pool = {
      storeFailure: () => undefined,
      storeError: () => undefined,
      positions: new Positions(new SharedArrayBuffer(Positions.bytesFor(1))),
      lastSeq: () => 9,
      call: (_w: number, m: ToWorker) => call(m),
    };
    const log = pino({ level: 'silent' });
    const coordinator = new EtcdCoordinator(
      config,
      keeper,
      plan,
      pool as unknown as WorkerPool,
      log,
      CLUSTER,
    );
    let oldEpochWrites = 0;
    try {
      // The last run stopped uncleanly in a lossy mode: the shard owes a new epoch before any write.
      await coordinator.start(true);
      for (let i = 0; i < 200; i++) {
        if (coordinator.mayWrite(0) && current.shards[0]!.epoch === 0) oldEpochWrites++;
        await sleep(10);
      }
      assert.ok(rolledBack, 'the promotion held its store');
      assert.equal(
        oldEpochWrites,
        0,
        `the leader could write in its old epoch in ${oldEpochWrites} of 200 looks`,
      );
      assert.deepEqual(refused, [], 'etcd offered no map older than the node’s');
      const stored = parseLiveMap(
        JSON.parse((await client.get(keys.mapKey).string()) ?? 'null'),
        config.shards,
      );
      assert.ok(stored.version > mine.version, `etcd holds version ${stored.version}, above ${mine.version}`);
      assert.deepEqual(current, stored, 'the node adopted the map etcd holds');
      assert.equal(current.shards[0]!.leader, L);
      assert.ok(current.shards[0]!.epoch > 0, 'a new epoch');
      assert.deepEqual(
        current.shards[0]!.history.at(-1)?.firstSeq,
        10,
        'the new epoch starts after the held seq',
      );
      assert.ok(coordinator.mayWrite(0), 'the leader writes in its new epoch');
    } finally {
      await coordinator.stop();
      client.close();
    }
  });
});
