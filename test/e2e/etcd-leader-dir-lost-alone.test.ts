/**
 * With etcd, a leader whose store directory is removed while both its replicas are down. It gives
 * its leader key up (src/coordination/shard-step.ts `resignLost`) for a replica to take the shard
 * over, but none is there to. What it acknowledged while they were down (`w=0`) is then only in the
 * files its process holds open, and every message it and `distkv cluster` give says to copy that
 * out now ("reads still work ...: copy its data out now (distkv backup, or distkv failover to a
 * replica)", docs/operations.md "A store directory removed while it runs"). Found: once it gave
 * its key up, it refuses every read (503 SWITCHING_LEADER, "has no lease") and `distkv backup`
 * fails, so that data cannot be copied out; and `distkv cluster` blames etcd ("holds no lease in
 * etcd (it does not reach etcd ...)... the leader takes its key back"), which it will not. Skipped
 * only when no etcd binary exists.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { etcdMissing } from '../helpers/etcd.js';
import { EtcdTrio } from '../helpers/etcd-trio.js';
import { dumpAt, leaderSeenBy, waitFor } from '../helpers/failover-model.js';
import { runCli } from '../helpers/server-process.js';

/** ALONE_KEYS are written at the leader while both replicas are down (only it holds them). */
const ALONE_KEYS = Array.from({ length: 10 }, (_, i) => `alone-${String(i)}`);

describe(
  'a leader whose store directory was removed while its replicas are down, with etcd',
  { timeout: 120000, skip: etcdMissing() },
  () => {
    let trio: EtcdTrio;
    let leader = '';

    before(async () => {
      trio = await EtcdTrio.start('leader-dir-lost-alone');
      const { cluster, members } = trio;
      const [A, B, C] = members as [string, string, string];
      leader = A;
      await cluster.following();
      await cluster.stopNode(B);
      await cluster.stopNode(C);
      for (const k of ALONE_KEYS) {
        const r = await fetch(`http://${A}/kv/${k}`, { method: 'PUT', body: `v-${k}` });
        assert.equal(r.status, 204, `put ${k}: ${await r.text()}`);
      }
      trio.removeStoreDir(A);
      // The store checks its directory every second; then the coordinator resigns its key.
      await waitFor('the leader to report STORE_DIR_LOST', async () => {
        const doc = (await (await fetch(`http://${A}/cluster`)).json()) as {
          shards: { leader: { local_error?: string } }[];
        };
        return doc.shards[0]?.leader.local_error === 'STORE_DIR_LOST';
      });
      // A few reconciles (TTL 1 s): the key is given up by now.
      await new Promise((r) => setTimeout(r, 3000));
    });

    after(async () => {
      await trio.stop();
    });

    it('still serves reads of what only it holds, as its messages say', async () => {
      const r = await fetch(`http://${leader}/kv/${ALONE_KEYS[0]!}`);
      const body = await r.text();
      assert.equal(r.status, 200, `read at the leader: ${String(r.status)} ${body}`);
      assert.equal(body, `v-${ALONE_KEYS[0]!}`);
    });

    it('can be copied out with distkv backup', async () => {
      const out = join(trio.dir, 'copy.backup');
      const r = await runCli(['backup', '--url', leader, '--wait-ms', '5000', out]);
      assert.equal(r.code, 0, `distkv backup of the only copy:\n${r.stdout}${r.stderr}`);
    });

    it('distkv cluster does not blame etcd for the key it gave up', async () => {
      const r = await runCli(['cluster', '--url', leader, '--refused-wait-ms', '0']);
      assert.equal(r.code, 1);
      assert.doesNotMatch(
        r.stdout + r.stderr,
        /it does not reach etcd|the leader takes its key back/,
        `distkv cluster:\n${r.stdout}${r.stderr}`,
      );
    });

    it('hands the shard over to a replica that comes back and pulls what only it held', async () => {
      const B = trio.members[1]!;
      await trio.cluster.startNode(B);
      await waitFor(
        `${B} to lead`,
        async () => {
          const l = await leaderSeenBy(B);
          return l === B;
        },
        30000,
      );
      const held = await dumpAt(B);
      assert.deepEqual(
        ALONE_KEYS.filter((k) => held.get(k) !== `v-${k}`),
        [],
        'writes only the lost-directory leader held, missing at the replica that took over',
      );
      const r = await fetch(`http://${B}/kv/after`, { method: 'PUT', body: 'v' });
      assert.equal(r.status, 204, await r.text());
    });
  },
);
