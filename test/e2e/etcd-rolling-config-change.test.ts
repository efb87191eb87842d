/**
 * With etcd, a rolling change of sharding.toml that keeps the shard's leader (a replica added)
 * loses no acknowledged write: the replicas are restarted on the new file one by one, the leader
 * last, each with SIGTERM, while a bounded writer writes with `w=1` (docs/failover.md, "A rolling
 * config change"). Before, a replica restarted on the new file stopped copying the leader still on
 * the old file (its pulls were refused as CONFIG_MISMATCH), and the leader's graceful stop handed
 * the shard to a replica behind it anyway: the leader's last acknowledged writes went to its
 * divergence file. Skipped only when no etcd binary exists.
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
  { timeout: 60000, skip: etcdMissing() },
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
      const load = new Load(client, 'k', 4, 100_000, 1, 40_000);
      try {
        await load.until(100);
        for (const n of [B, C, A]) {
          const at = load.acked.size;
          await cluster.stopNode(n);
          await cluster.startNode(n, edited);
          // Once B and C both run the new file, w=1 writes wait for a replica of the old file's leader.
          if (n === B) await load.until(at + 20);
          else await new Promise((r) => setTimeout(r, 1000));
        }
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
