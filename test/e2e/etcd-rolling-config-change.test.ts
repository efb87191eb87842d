/**
 * With etcd, a rolling change of sharding.toml that keeps the shard's leader (a replica added)
 * loses no acknowledged write: the replicas are restarted on the new file one by one, the leader
 * last, each with SIGTERM, while a bounded writer writes with `w=1` (docs/failover.md, "A rolling
 * config change"). The replicas on the new file go on copying the leader on the old one (both files
 * give the shard the same slots and leader: src/replication/leader-config.ts), so `w=1` writes are
 * acknowledged throughout and the leader's stop finds a replica holding its last seq. Before, their
 * pulls were refused as CONFIG_MISMATCH for the whole change: once both ran the new file no `w=1`
 * write was acknowledged, and the leader's stop let its lease go with no replica holding its last
 * writes (a replica that took the shard over then lacked them). At the end every acknowledged write
 * reads back at the leader and none is in a divergence file. Skipped only when no etcd binary exists.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { etcdMissing } from '../helpers/etcd.js';
import { coordinationToml, EtcdTrio } from '../helpers/etcd-trio.js';
import { divergedOf, dumpAt, leaderSeenBy, Load, waitFor } from '../helpers/failover-model.js';
import { freeNodeAddress } from '../helpers/resp.js';
import { writeConfig } from '../helpers/server-process.js';

describe(
  'a rolling config change that keeps the leader, with etcd',
  { timeout: 120000, skip: etcdMissing() },
  () => {
    let trio: EtcdTrio;

    before(async () => {
      trio = await EtcdTrio.start('rolling-config-change');
    });

    after(async () => {
      await trio.stop();
    });

    it('loses no write acknowledged with w=1', async () => {
      const { cluster, client, members, etcd } = trio;
      const [A, B, C] = members as [string, string, string];
      await cluster.following();
      const dir = join(trio.dir, 'edited');
      mkdirSync(dir);
      // A fourth member that never runs: the change keeps A leading, with B and C still its replicas.
      const D = await freeNodeAddress('127.0.0.4');
      const edited = writeConfig(dir, [{ address: A, replicas: [B, C, D] }], coordinationToml(etcd.url));
      // Bounded at 80 s: three restarts on a loaded machine took 47 s and ended a 40 s load short of its last count.
      const load = new Load(client, 'k', 4, 100_000, 1, 80_000);
      try {
        await load.until(100);
        for (const n of [B, C]) {
          await cluster.stopNode(n);
          await cluster.startNode(n, edited);
          const at = load.acked.size;
          // The replica on the new file copies the leader still on the old one: w=1 writes go on.
          await load.until(at + 20, 15000);
        }
        // The leader last: its replicas hold its last seq, so its graceful stop hands over in full.
        const leaderRun = cluster.process(A);
        await cluster.stopNode(A);
        assert.doesNotMatch(leaderRun.stdout + leaderRun.stderr, /stopping: no replica of shard-0/);
        await cluster.startNode(A, edited);
        await waitFor('one leader named by every node', async () => {
          const seen = await Promise.all(members.map((m) => leaderSeenBy(m)));
          return seen[0] !== undefined && seen.every((l) => l === seen[0]);
        });
        await load.until(load.acked.size + 20);
      } finally {
        await load.stop();
      }
      const leader = (await leaderSeenBy(A))!;
      const held = await dumpAt(leader);
      const missing = [...load.acked].filter(([k, v]) => held.get(k) !== v).map(([k]) => k);
      assert.deepEqual(
        missing,
        [],
        `${String(missing.length)} of ${String(load.acked.size)} writes acknowledged with w=1 missing at the leader ${leader}`,
      );
      for (const m of members) {
        const d = await divergedOf(m);
        const text = d.bytes.toString('latin1');
        // Each value (`v<i>-x…`) is written once: found in the file, that acknowledged write was cut off.
        const kept = [...load.acked].filter(([, v]) => text.includes(v)).map(([k]) => k);
        assert.deepEqual(
          kept.slice(0, 10),
          [],
          `${m}'s divergence files ${d.files.join(', ')} hold acknowledged writes`,
        );
      }
    });
  },
);
