/**
 * Two live processes that run as the same node (docs/failover.md, "Automatic failover with etcd"):
 * a process that restarts takes its node's leader key over from its earlier lease at once, since
 * the earlier process is gone (it held the data directory's lock and the port). Two processes
 * can still run as one node: `--listen` binds another port, and another data directory has
 * another lock. Before, each took the key back from the other at every reconcile and both kept
 * taking writes for the shard in the same epoch, each believing it led. The one that held the key
 * first must stand down, and must not take it back while the other's lease lives.
 * Skipped only when no etcd binary exists.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { parseConfigText } from '../../src/config/load-config.js';
import { EtcdCoordinator } from '../../src/coordination/etcd-coordinator.js';
import { initialLiveMap, type LiveMap } from '../../src/routing/live-map.js';
import type { MapKeeper } from '../../src/server/map-keeper.js';
import type { NodePlan } from '../../src/server/node-plan.js';
import type { WorkerPool } from '../../src/server/worker-pool.js';
import { etcdMissing, TestEtcd } from '../helpers/etcd.js';
import { inDir } from '../helpers/replication-host.js';
import { tempDir } from '../helpers/temp-dir.js';

const TTL_MS = 1000;
const TICK_MS = TTL_MS / 4;
const L = '127.0.0.1:7201';
const R = '127.0.0.1:7202';
const CLUSTER = 'twins';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('two processes running as one node', { timeout: 60000, skip: etcdMissing() }, () => {
  let etcd: TestEtcd;
  before(async () => {
    etcd = await TestEtcd.start();
  });
  after(async () => {
    await etcd.stop();
  });

  it('never both take writes as the leader: the first stands down when the second takes its key', async () => {
    const config = parseConfigText(
      `[[shards]]\nname = "shard-0"\nidx = 0\naddress = "${L}"\nreplicas = ["${R}"]\n` +
        `[coordination]\netcd = ["${etcd.url}"]\nlease_ttl_ms = ${TTL_MS}\ncluster = "${CLUSTER}"\n`,
      't.toml',
      {},
      {},
    );
    /** process is one process's coordinator over a fake worker pool hosting L's leader store. */
    const process = (): EtcdCoordinator => {
      let current: LiveMap = initialLiveMap(config.shards);
      const keeper = {
        get current() {
          return current;
        },
        offer: (m: LiveMap) => {
          current = m;
          return Promise.resolve(true);
        },
      } as unknown as MapKeeper;
      const spec = { ...inDir(tempDir(after), 'leader'), node: L, worker: 0 };
      const plan = {
        stores: [spec],
        listeners: [],
        storesByWorker: [[spec]],
        workers: 1,
      } as unknown as NodePlan;
      const pool = {
        storeFailure: () => undefined,
        lastSeq: () => 5,
        call: () => Promise.resolve({ type: 'fence-result', id: 0, ok: true, lastSeq: 5 }),
      } as unknown as WorkerPool;
      return new EtcdCoordinator(config, keeper, plan, pool, pino({ level: 'silent' }), CLUSTER);
    };
    const first = process();
    const second = process();
    try {
      await first.start();
      assert.equal(first.mayWrite(0), true, 'the first process leads');
      await second.start();
      let both = 0;
      let neither = 0;
      for (let i = 0; i < 20; i++) {
        await sleep(TICK_MS / 2);
        if (first.mayWrite(0) && second.mayWrite(0)) both++;
        if (!first.mayWrite(0) && !second.mayWrite(0)) neither++;
      }
      assert.ok(both <= 1, `both processes took writes as the leader in ${both} of 20 looks`);
      assert.equal(second.mayWrite(0), true, 'the process that took the key over leads');
      assert.equal(neither, 0, 'the shard had no leader while one process held the key');
    } finally {
      await second.stop();
      await first.stop();
    }
  });
});
