/**
 * A leader whose replica is in another process (HTTP pulls, long polls of
 * `replication.pull_wait_ms`), stopped with SIGTERM right after writes it acknowledged: its stop
 * wakes the replica's parked pull at once (src/server/node-drain.ts; src/util/stop-wakes.ts)
 * and ends in milliseconds, and that pull still carries every write acknowledged before the stop,
 * so the replica holds them all. Before, the stop waited the parked pull out: about one
 * `pull_wait_ms` (3 s here) between the "shutting down" and the "stopped" log lines. With etcd the
 * stop first hands the shard over (src/server/drain-handover.ts), whose pulls must still bring a
 * replica the last seq: the new leader holds every write acknowledged (skipped without etcd).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { TestCluster } from '../helpers/cluster.js';
import { etcdMissing, TestEtcd } from '../helpers/etcd.js';
import { coordinationToml } from '../helpers/etcd-trio.js';
import { dumpAt, leaderSeenBy, waitFor } from '../helpers/failover-model.js';
import { freeNodeAddress } from '../helpers/resp.js';
import { tempDir } from '../helpers/temp-dir.js';
import { stopMsOf } from '../helpers/stop-time.js';

/** PULL_WAIT_MS is the replicas' long poll: the old stop waited about this long. */
const PULL_WAIT_MS = 3000;
/**
 * STOP_BOUND_MS bounds the stop from its "shutting down" to its "stopped" log line: about 150 ms
 * here (100 of them the stop's wait for a keep-alive client's last request), with room for a
 * loaded machine, and still a third of the long poll the stop waited out before.
 */
const STOP_BOUND_MS = 1000;
/**
 * ETCD_PULL_WAIT_MS is the long poll with etcd, where the stop also waits for etcd to name the new
 * leader after its lease goes (src/coordination/successor-wait.ts: about a TTL and a tick, 1.3-1.9 s
 * at this 1 s TTL): the stop must still end well within one long poll.
 */
const ETCD_PULL_WAIT_MS = 8000;

/** put writes `key` at `node` (w=0) and resolves with whether it was acknowledged. */
async function put(node: string, key: string, value: string): Promise<boolean> {
  const r = await fetch(`http://${node}/kv/${key}`, { method: 'PUT', body: value });
  await r.arrayBuffer();
  return r.status === 204;
}

/**
 * writeRounds writes 5 rounds of 40 concurrent writes at `node` and returns those acknowledged:
 * the last round's acks come right before the caller's SIGTERM, when the replicas have pulled some
 * of them at most.
 */
async function writeRounds(node: string): Promise<Map<string, string>> {
  const acked = new Map<string, string>();
  for (let round = 0; round < 5; round++) {
    const batch = Array.from({ length: 40 }, (_, i) => [`k${round}-${i}`, `v${round}-${i}`] as const);
    const ok = await Promise.all(batch.map(([k, v]) => put(node, k, v)));
    batch.forEach(([k, v], i) => {
      if (ok[i] === true) acked.set(k, v);
    });
  }
  return acked;
}

/** stopTimed stops `node` with SIGTERM and returns the ms from its "shutting down" to its "stopped" log line. */
async function stopTimed(cluster: TestCluster, node: string): Promise<number> {
  const p = cluster.process(node);
  p.child.kill('SIGTERM');
  assert.equal(await p.waitExit(), 0, `the leader's stop failed:\n${p.stdout}\n${p.stderr}`);
  return stopMsOf(p.stdout);
}

/** missingAt lists the keys of `acked` that `node` does not serve with their acknowledged value. */
async function missingAt(node: string, acked: Map<string, string>): Promise<string[]> {
  const held = await dumpAt(node);
  return [...acked].filter(([k, v]) => held.get(k) !== v).map(([k]) => k);
}

describe('a leader with a replica in another process, stopped with SIGTERM', { timeout: 120000 }, () => {
  it('wakes the parked pull at once, and the replica holds every write acknowledged', async () => {
    const dir = tempDir(after);
    const A = await freeNodeAddress();
    const B = await freeNodeAddress();
    const cluster = await TestCluster.start({
      dir,
      shards: [{ address: A, replicas: [B] }],
      extraToml: `[replication]\npull_wait_ms = ${PULL_WAIT_MS}\n`,
      env: { DISTKV_LOG_LEVEL: 'info' },
    });
    try {
      await cluster.following();
      const acked = await writeRounds(A);
      const stopMs = await stopTimed(cluster, A);
      assert.equal(acked.size, 200, 'every write was acknowledged');
      assert.ok(
        stopMs < STOP_BOUND_MS,
        `the stop took ${stopMs} ms from "shutting down" to "stopped" (bound ${STOP_BOUND_MS} ms, pull_wait_ms ${PULL_WAIT_MS}): it waited out the replica's parked pull`,
      );
      // The replica serves its shard's reads itself while its leader is down.
      const missing = await missingAt(B, acked);
      assert.deepEqual(
        missing,
        [],
        `${missing.length} of ${acked.size} acknowledged writes missing at the replica`,
      );
    } finally {
      await cluster.stop();
    }
  });
});

describe(
  'a leader with etcd and replicas in other processes, stopped with SIGTERM',
  { timeout: 120000, skip: etcdMissing() },
  () => {
    it('hands the shard over with every write acknowledged, then wakes the parked pulls at once', async () => {
      const dir = tempDir(after);
      const etcd = await TestEtcd.start();
      after(() => etcd.stop());
      const members = await Promise.all(
        ['127.0.0.1', '127.0.0.2', '127.0.0.3'].map((h) => freeNodeAddress(h)),
      );
      const [A, B, C] = members as [string, string, string];
      const cluster = await TestCluster.start({
        dir,
        shards: [{ address: A, replicas: [B, C] }],
        extraToml: `${coordinationToml(etcd.url)}[replication]\npull_wait_ms = ${ETCD_PULL_WAIT_MS}\n`,
        env: { DISTKV_LOG_LEVEL: 'info' },
      });
      try {
        await cluster.following();
        const acked = await writeRounds(A);
        const stopMs = await stopTimed(cluster, A);
        assert.equal(acked.size, 200, 'every write was acknowledged');
        // The handover waits for a replica's pull of the last seq (a round trip), then the lease
        // goes (etcd calls) and etcd names the new leader: well within one long poll, which the stop
        // waited out after them before.
        assert.ok(
          stopMs < ETCD_PULL_WAIT_MS / 2,
          `the stop took ${stopMs} ms from "shutting down" to "stopped" (bound ${ETCD_PULL_WAIT_MS / 2} ms, pull_wait_ms ${ETCD_PULL_WAIT_MS})`,
        );
        let leader: string | undefined;
        await waitFor('a replica to lead', async () => {
          leader = await leaderSeenBy(B);
          return leader !== undefined && leader !== A && (await leaderSeenBy(C)) === leader;
        });
        const missing = await missingAt(leader!, acked);
        assert.deepEqual(
          missing,
          [],
          `${missing.length} of ${acked.size} acknowledged writes missing at the new leader ${leader}`,
        );
      } finally {
        await cluster.stop();
      }
    });
  },
);
