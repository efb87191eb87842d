/**
 * With etcd, every member's store directory removed while they run (a shared volume wiped, say).
 * A leader whose directory is lost gives its key up only once a live member has held its last seq
 * for two lease TTLs (src/coordination/shard-step.ts `resignLost`), and a replica whose directory is
 * lost withdraws its seq: here no member can take the shard over, so the leader must keep its key
 * and go on serving the reads of what its open files hold (the data to copy out), no replica must
 * lead with a store that is gone, and writes are refused as STORE_DIR_LOST everywhere, not
 * acknowledged. What every lost member's log advises, a restart with --repair, then brings the
 * shard back: the repaired replica resyncs from the leader's open files, and the leader gives it
 * the key. Skipped only when no etcd binary exists.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { etcdMissing } from '../helpers/etcd.js';
import { EtcdTrio, TRIO_TTL_MS } from '../helpers/etcd-trio.js';
import { dumpAt, leaderSeenBy, takesWrites, waitFor } from '../helpers/failover-model.js';

/** KEYS are written with w=2 before the directories go: every member held them. */
const KEYS = Array.from({ length: 10 }, (_, i) => `every-${String(i)}`);

/** localError is the error /cluster at `node` names for its own store of shard-0 (leader or replica). */
async function localError(node: string): Promise<string | undefined> {
  const doc = (await (await fetch(`http://${node}/cluster`)).json()) as {
    shards: {
      leader: { address: string; local_error?: string };
      replicas: { address: string; local_error?: string }[];
    }[];
  };
  const shard = doc.shards[0]!;
  return [shard.leader, ...shard.replicas].find((m) => m.address === node)?.local_error;
}

describe(
  'every member whose store directory was removed, with etcd',
  { timeout: 120000, skip: etcdMissing() },
  () => {
    let trio: EtcdTrio;

    before(async () => {
      trio = await EtcdTrio.start('every-dir-lost');
      const { cluster, members } = trio;
      await cluster.following();
      for (const k of KEYS) {
        const r = await fetch(`http://${members[0]!}/kv/${k}?w=2`, { method: 'PUT', body: `v-${k}` });
        assert.equal(r.status, 204, `put ${k}: ${await r.text()}`);
      }
      for (const m of members) trio.removeStoreDir(m);
      for (const m of members)
        await waitFor(
          `${m} to report STORE_DIR_LOST`,
          async () => (await localError(m)) === 'STORE_DIR_LOST',
        );
      // Past the two lease TTLs a lost leader waits for a live member holding its last seq, and more.
      await new Promise((r) => setTimeout(r, 4 * TRIO_TTL_MS));
    });

    after(async () => {
      await trio.stop();
    });

    it('the leader keeps its key and no member with its store gone leads', async () => {
      const leader = trio.members[0]!;
      for (const m of trio.members) assert.equal(await leaderSeenBy(m), leader, `the leader ${m} names`);
    });

    it('the leader still serves the reads of what it held', async () => {
      for (const k of KEYS) {
        const r = await fetch(`http://${trio.members[0]!}/kv/${k}`);
        const body = await r.text();
        assert.equal(r.status, 200, `read ${k}: ${String(r.status)} ${body}`);
        assert.equal(body, `v-${k}`);
      }
    });

    it('a write is refused, not acknowledged, at every member', async () => {
      for (const m of trio.members) {
        const r = await fetch(`http://${m}/kv/after-loss`, { method: 'PUT', body: 'v', redirect: 'follow' });
        const text = await r.text();
        assert.notEqual(r.status, 204, `a write at ${m} was acknowledged with every store gone`);
        assert.match(text, /STORE_DIR_LOST/, `the refusal at ${m}: ${String(r.status)} ${text}`);
      }
    });

    it('a replica restarted with --repair, as its log advises, resyncs from the leader and takes the shard over with every key', async () => {
      const [A, B] = trio.members as [string, string, string];
      const said = trio.cluster.process(B).stdout;
      assert.match(said, /start it with --repair/, `${B}'s log gives no advice`);
      await trio.cluster.stopNode(B);
      await trio.cluster.startNode(B, undefined, ['--repair']);
      // B pulls what A's open files hold; A then gives its key up (B holds its last seq for two TTLs).
      const leader = await trio.newLeader(A);
      assert.equal(leader, B, 'the repaired replica leads (the third member lost its store too)');
      // The members name B once its map is in etcd; B serves once it counts its leader key held, a
      // moment later (until then SWITCHING_LEADER, "retry shortly", as on a loaded machine when a
      // keepalive is late): wait for that, and read with retries as the client library does.
      await takesWrites(B, 'after-repair');
      const held = await dumpAt(B);
      for (const k of KEYS) assert.equal(held.get(k), `v-${k}`, `${k} at the new leader`);
    });
  },
);
