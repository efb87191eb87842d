/**
 * A leader whose replica is in another process (HTTP pulls, long polls of
 * `replication.pull_wait_ms`), stopped with SIGTERM right after writes it acknowledged: its stop
 * wakes the replica's parked pull at once (src/server/node.ts, drain; ReplicationHost.endPulls)
 * and ends in milliseconds, and that pull still carries every write acknowledged before the stop,
 * so the replica holds them all. Before, the stop waited the parked pull out: about one
 * `pull_wait_ms` (3 s here) between the "shutting down" and the "stopped" log lines.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { TestCluster } from '../helpers/cluster.js';
import { dumpAt } from '../helpers/failover-model.js';
import { freeNodeAddress } from '../helpers/resp.js';
import { tempDir } from '../helpers/temp-dir.js';

/** PULL_WAIT_MS is the replica's long poll: the old stop waited about this long. */
const PULL_WAIT_MS = 3000;
/** STOP_BOUND_MS bounds the stop from its "shutting down" to its "stopped" log line. */
const STOP_BOUND_MS = 500;

/** logTime is the time (ms) of the first JSON log line of `out` whose message is `msg`. */
function logTime(out: string, msg: string): number {
  for (const line of out.split('\n')) {
    if (!line.startsWith('{')) continue;
    const l = JSON.parse(line) as { msg?: string; time?: number };
    if (l.msg === msg && typeof l.time === 'number') return l.time;
  }
  assert.fail(`no "${msg}" line in the leader's log:\n${out}`);
}

/** put writes `key` at `node` (w=0) and resolves with whether it was acknowledged. */
async function put(node: string, key: string, value: string): Promise<boolean> {
  const r = await fetch(`http://${node}/kv/${key}`, { method: 'PUT', body: value });
  await r.arrayBuffer();
  return r.status === 204;
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
      const acked = new Map<string, string>();
      // Rounds of concurrent writes; the last round's acks come right before the SIGTERM, when the
      // replica has pulled some of them at most.
      for (let round = 0; round < 5; round++) {
        const batch = Array.from({ length: 40 }, (_, i) => [`k${round}-${i}`, `v${round}-${i}`] as const);
        const ok = await Promise.all(batch.map(([k, v]) => put(A, k, v)));
        batch.forEach(([k, v], i) => {
          if (ok[i] === true) acked.set(k, v);
        });
      }
      const leader = cluster.process(A);
      leader.child.kill('SIGTERM');
      assert.equal(
        await leader.waitExit(),
        0,
        `the leader's stop failed:\n${leader.stdout}\n${leader.stderr}`,
      );
      assert.equal(acked.size, 200, 'every write was acknowledged');
      const stopMs =
        logTime(leader.stdout, 'stores closed; stopped') - logTime(leader.stdout, 'shutting down');
      assert.ok(
        stopMs < STOP_BOUND_MS,
        `the stop took ${stopMs} ms from "shutting down" to "stopped" (bound ${STOP_BOUND_MS} ms, pull_wait_ms ${PULL_WAIT_MS}): it waited out the replica's parked pull`,
      );
      // The replica serves its shard's reads itself while its leader is down.
      const held = await dumpAt(B);
      const missing = [...acked].filter(([k, v]) => held.get(k) !== v).map(([k]) => k);
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
