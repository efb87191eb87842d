/**
 * With etcd, a leader whose store directory is removed while its node runs refuses every write
 * with 507 STORE_DIR_LOST, and what it holds is gone at its next start. It kept its leader key (its
 * process and lease were alive), so no replica campaigned: the shard took no write until an
 * operator ran `distkv failover`. Now it gives the key up (src/coordination/shard-step.ts) and a
 * replica takes the shard over, with every write a replica acknowledged (`w=1`). Skipped only when
 * no etcd binary exists.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { etcdMissing } from '../helpers/etcd.js';
import { EtcdTrio } from '../helpers/etcd-trio.js';
import { dumpAt, takesWrites, waitFor } from '../helpers/failover-model.js';

/** putStatus is the status and error code of a PUT of `key` at `node`. */
async function putStatus(node: string, key: string, query = ''): Promise<string> {
  const r = await fetch(`http://${node}/kv/${key}${query}`, { method: 'PUT', body: `v-${key}` });
  const text = await r.text();
  const code =
    r.status === 204 ? '' : ((JSON.parse(text) as { error?: { code?: string } }).error?.code ?? '');
  return `${String(r.status)} ${code}`.trim();
}

describe(
  'a leader whose store directory was removed, with etcd',
  { timeout: 120000, skip: etcdMissing() },
  () => {
    let trio: EtcdTrio;

    before(async () => {
      trio = await EtcdTrio.start('leader-dir-lost');
    });

    after(async () => {
      await trio.stop();
    });

    it('gives its leader key up: a replica takes the shard over with every write a replica acknowledged', async () => {
      const { cluster, members } = trio;
      const [A] = members as [string, string, string];
      await cluster.following();
      const keys = Array.from({ length: 20 }, (_, i) => `k${String(i)}`);
      for (const k of keys) assert.equal(await putStatus(A, k, '?w=1'), '204', `put ${k}`);
      trio.removeStoreDir(A);
      // The store checks its directory every second; then it refuses every write.
      await waitFor('the leader to refuse writes', async () => (await putStatus(A, 'probe')) !== '204');
      const leader = await trio.newLeader(A);
      await takesWrites(leader, 'after');
      const held = await dumpAt(leader);
      const missing = keys.filter((k) => held.get(k) !== `v-${k}`);
      assert.deepEqual(missing, [], `acknowledged w=1 writes missing at the new leader ${leader}`);
    });
  },
);
