/**
 * A leader restarted on an empty data directory (removed, replaced, a new disk) while its replica
 * holds the shard (src/server/behind-leaders.ts; docs/failover.md, "A leader started on an empty
 * store"). Before, the leader served an empty shard, and the replica, finding itself ahead of it,
 * saved its records to a divergence file and resynced from the empty snapshot: every acknowledged
 * write gone from service. The same when its directory is put back from an older copy. Now the
 * leader refuses every request on the shard with 503 LEADER_BEHIND,
 * naming the replica; the replica keeps its records; `distkv failover --to` the replica brings the
 * shard back whole, and the old leader then copies it. Learnt two ways: from the replica's node at
 * the leader's start (the peers' /cluster), and from the replica's first pull when it was down then.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { TestCluster } from '../helpers/cluster.js';
import { clusterOf, divergedOf, dumpAt, storeOf, waitFor } from '../helpers/failover-model.js';
import { freePort } from '../helpers/ports.js';
import { runCli } from '../helpers/server-process.js';

const KEYS = 50;

describe('a leader restarted on an empty data directory', { timeout: 180000 }, () => {
  let dir = '';
  let cluster: TestCluster;
  let A = '';
  let B = '';
  let client: DistkvClient;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'distkv-empty-leader-'));
    A = `127.0.0.1:${String(await freePort('127.0.0.1'))}`;
    B = `127.0.0.2:${String(await freePort('127.0.0.2'))}`;
    cluster = await TestCluster.start({ dir, shards: [{ address: A, replicas: [B] }] });
    client = new DistkvClient({ urls: [`http://${A}`, `http://${B}`], timeoutMs: 5000 });
  });

  after(async () => {
    await client.close();
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** wipe kills `node` and removes its data directory. */
  async function wipe(node: string): Promise<void> {
    await cluster.kill(node);
    rmSync(join(dir, node.replace(/[:.]/g, '_')), { recursive: true, force: true });
  }

  /**
   * expectBehind checks that `leader`, started with records through `leaderSeq`, refuses the shard,
   * naming `replica` at `seq`, which kept its `keys` keys.
   */
  async function expectBehind(
    leader: string,
    replica: string,
    seq: number,
    keys = KEYS,
    leaderSeq = 0,
  ): Promise<void> {
    for (const r of [
      await fetch(`http://${leader}/kv/k/1`),
      await fetch(`http://${leader}/kv/new`, { method: 'PUT', body: 'x' }),
      await fetch(`http://${leader}/kv?prefix=k/`),
      await fetch(`http://${leader}/get?key=k/1`),
      // Bounded: a watch that is not refused streams until closed.
      await fetch(`http://${leader}/watch?prefix=k/`, {
        headers: { Accept: 'text/event-stream' },
        signal: AbortSignal.timeout(5000),
      }),
    ]) {
      assert.equal(r.status, 503, `${r.url}: ${await r.clone().text()}`);
      const text = await r.text();
      assert.match(
        text,
        leaderSeq === 0
          ? /started on an empty store/
          : new RegExp(`started with records through seq ${String(leaderSeq)} only`),
        r.url,
      );
      assert.match(text, new RegExp(`replica ${replica} holds records through seq ${String(seq)}`));
      assert.match(text, new RegExp(`distkv failover --shard shard-0 --to ${replica}`));
    }
    const doc = await clusterOf(leader);
    assert.deepEqual((doc.shards[0]!.leader as { behind?: unknown }).behind, {
      replica,
      replica_seq: seq,
      leader_seq: leaderSeq,
    });
    assert.equal((await storeOf(replica)).lastSeq, seq);
    const shown = await runCli(['cluster', '--url', leader]);
    assert.equal(shown.code, 1, 'a leader held behind fails `distkv cluster`');
    assert.match(shown.stdout, new RegExp(`NO LEADER: ${leader} \\(BEHIND ${replica}\\)`));
    assert.match(
      shown.stdout,
      new RegExp(
        `LEADER BEHIND: .*its replica ${replica} holds seq ${String(seq)}.*distkv failover --shard shard-0 --to ${replica}`,
      ),
    );
    const kept = await dumpAt(replica);
    assert.equal(kept.size, keys, 'the replica kept every key');
    assert.equal(kept.get('k/7'), 'v7');
    assert.equal((await divergedOf(replica)).records, 0, 'nothing was cut off into a divergence file');
    assert.match(cluster.process(leader).stderr + cluster.process(leader).stdout, /LEADER BEHIND/);
  }

  /** failBack promotes `to` with `distkv failover`, then checks its `keys` keys read back and `from` copied them. */
  async function failBack(to: string, from: string, keys = KEYS): Promise<void> {
    const r = await runCli(['failover', '--url', from, '--shard', 'shard-0', '--to', to]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    for (let i = 0; i < keys; i++) assert.equal(await client.getString(`k/${String(i)}`), `v${String(i)}`);
    await client.put('after', 'yes', { w: 1, timeoutMs: 10000 });
    await waitFor(`${from} copies the shard from ${to}`, async () => {
      const st = await storeOf(from);
      return st.role === 'replica' && (await dumpAt(from)).get('after') === 'yes';
    });
    await client.delete('after', { w: 1, timeoutMs: 10000 });
  }

  it('is held from its start when the replica answers, and fails over to the replica whole', async () => {
    for (let i = 0; i < KEYS; i++)
      await client.put(`k/${String(i)}`, `v${String(i)}`, { w: 1, timeoutMs: 10000 });
    const seq = (await storeOf(B)).lastSeq;
    await wipe(A);
    await cluster.startNode(A);
    await expectBehind(A, B, seq);
    await failBack(B, A);
  });

  it("is held at the replica's first pull when the replica was down at its start", async () => {
    // B leads now, A follows it with every key. B's directory goes; A is down while B starts.
    const seq = (await storeOf(A)).lastSeq;
    await cluster.stopNode(A);
    await wipe(B);
    await cluster.startNode(B);
    await cluster.startNode(A);
    await waitFor(`${B} learns ${A} holds records`, async () => {
      const doc = await clusterOf(B);
      return (doc.shards[0]!.leader as { behind?: unknown }).behind !== undefined;
    });
    await expectBehind(B, A, seq);
    await failBack(A, B);
  });

  it('is held when its data directory is put back from an older copy', async () => {
    // A leads again, B follows. A copy of A's directory taken after a clean stop is put back
    // after ten more writes that B holds (a VM snapshot rolled back, a restore of its files).
    const dirA = join(dir, A.replace(/[:.]/g, '_'));
    const copy = join(dir, 'copy-of-a');
    await cluster.stopNode(A);
    const leaderSeq = (await storeOf(B)).lastSeq;
    cpSync(dirA, copy, { recursive: true });
    await cluster.startNode(A);
    for (let i = KEYS; i < KEYS + 10; i++)
      await client.put(`k/${String(i)}`, `v${String(i)}`, { w: 1, timeoutMs: 10000 });
    const seq = (await storeOf(B)).lastSeq;
    await cluster.stopNode(A);
    rmSync(dirA, { recursive: true, force: true });
    cpSync(copy, dirA, { recursive: true });
    await cluster.startNode(A);
    await expectBehind(A, B, seq, KEYS + 10, leaderSeq);
    await failBack(B, A, KEYS + 10);
  });
});
