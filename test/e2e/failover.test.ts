/**
 * Failover across processes (docs/failover.md): one shard with a leader and two replicas, each its
 * own `distkv serve --node` process. Writes run through the client library while the leader moves;
 * the model is the set of acknowledged writes, each of which must be readable afterwards, and every
 * member's store must converge to the new leader's content.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { failover } from '../../src/cli/failover.js';
import { EPOCH_STRIDE } from '../../src/routing/epoch-numbers.js';
import type { TestCluster } from '../helpers/cluster.js';
import {
  clusterOf,
  divergedOf,
  expectConverged as converged,
  Load,
  storeOf,
  waitFor,
} from '../helpers/failover-model.js';
import { Trio } from '../helpers/trio.js';
import { runCli } from '../helpers/server-process.js';
import { pauseProcess } from '../helpers/process-pause.js';

describe('failover', { timeout: 180000 }, () => {
  let trio: Trio;
  let cluster: TestCluster;
  let client: DistkvClient;
  let A = '';
  let B = '';
  let C = '';

  before(async () => {
    trio = await Trio.start('failover', { clientNodes: ([a]) => [a] });
    ({ cluster, client, A, B, C } = trio);
  });

  after(async () => {
    await trio.stop();
  });

  const members = (): string[] => [A, B, C];

  const expectConverged = (leader: string, acked: Map<string, string>): Promise<void> =>
    converged(client, members(), leader, acked);

  it('moves the leader under write load without losing an acknowledged write (planned)', async () => {
    const load = new Load(client, 'planned', 4, 20000);
    await load.until(300);
    const r = await failover({
      urls: [`http://${A}`],
      shard: 'shard-0',
      force: false,
      token: '',
      timeoutMs: 20000,
    });
    assert.equal(r.from, A);
    assert.ok([B, C].includes(r.to), `promoted a replica, got ${r.to}`);
    assert.ok(r.targetSeq >= r.leaderSeq!, 'the target caught up to the held leader');
    assert.deepEqual(r.unreached, []);
    const before = load.acked.size;
    await load.until(before + 300);
    await load.stop();
    for (const n of members()) {
      const doc = await clusterOf(n);
      assert.equal(doc.map_version, 2, `${n} routes with the new map`);
      assert.equal(doc.shards[0]!.leader.address, r.to);
      assert.equal(doc.shards[0]!.epoch, r.epoch);
    }
    // The epoch's number names its leader: its index among the members in address order.
    assert.equal(r.epoch, EPOCH_STRIDE + members().sort().indexOf(r.to));
    await expectConverged(r.to, load.acked);
    assert.ok(client.liveMapVersion >= 2, 'the client reloaded the newer map');
  });

  it('moves it back with the CLI to a chosen replica, and the map survives a restart', async () => {
    const load = new Load(client, 'back', 2, 20000);
    await load.until(100);
    const res = await runCli(['failover', '--url', `http://${B}`, '--shard', 'shard-0', '--to', A, '--json']);
    assert.equal(res.code, 0, res.stderr);
    const r = JSON.parse(res.stdout) as { to: string; epoch: number; mapVersion: number };
    assert.equal(r.to, A);
    assert.equal(r.epoch, 2 * EPOCH_STRIDE + members().sort().indexOf(A));
    await load.until(load.acked.size + 100);
    await load.stop();
    await expectConverged(A, load.acked);
    await cluster.stopNode(A);
    await cluster.startNode(A);
    const doc = await clusterOf(A);
    assert.equal(doc.map_version, 3, 'the map was persisted');
    assert.equal((await storeOf(A)).role, 'leader');
    const cli = await runCli(['cluster', '--url', `http://${A}`]);
    assert.match(cli.stdout, new RegExp(`^0 shard-0\\s+0-16383\\s+${r.epoch}\\s+`, 'm'), cli.stdout);
    assert.match(cli.stdout, /live map version 3/);
  });

  it('a node that was down learns the newer map from its peers before serving', async () => {
    await cluster.stopNode(C);
    const load = new Load(client, 'missed', 2, 20000);
    await load.until(100);
    const r = await failover({
      urls: [`http://${A}`],
      shard: 'shard-0',
      to: B,
      force: false,
      token: '',
      timeoutMs: 20000,
    });
    assert.deepEqual(r.unreached, [C]);
    await load.until(load.acked.size + 100);
    await load.stop();
    await cluster.startNode(C);
    assert.equal((await clusterOf(C)).map_version, r.mapVersion, 'C adopted the map from a peer at start');
    await expectConverged(B, load.acked);
  });

  /** lostWrites lists the acknowledged writes the leader does not hold, checking each is in `saved`. */
  async function lostWrites(acked: Map<string, string>, saved: Buffer): Promise<string[]> {
    const lost: string[] = [];
    for (const [k, v] of acked) {
      if ((await client.get(k))?.toString() === v) continue;
      lost.push(k);
      assert.ok(saved.includes(Buffer.from(`${k}${v}`)), `lost write ${k} is in the divergence file`);
    }
    return lost;
  }

  it('a hold of writes that nobody releases ends by itself (a failover command that died mid-way)', async () => {
    const leader = (await clusterOf(A)).shards[0]!.leader.address;
    const held = await fetch(`http://${leader}/_admin/fence?shard=0&on=1&ms=1500`, { method: 'POST' });
    assert.equal(held.status, 200, await held.text());
    const during = await fetch(`http://${leader}/kv/held-key`, { method: 'PUT', body: 'x' });
    assert.equal(during.status, 503, 'held while the failover may still come');
    assert.ok(during.headers.get('retry-after') !== null);
    await waitFor('the hold to end', async () => {
      const r = await fetch(`http://${leader}/kv/held-key`, { method: 'PUT', body: 'y' });
      await r.arrayBuffer();
      return r.status === 204 || r.status === 200;
    });
    assert.equal((await client.get('held-key'))?.toString(), 'y');
  });

  it("promotes the most advanced replica when the leader was killed (forced): w=1 writes survive, lost w=0 writes are in the old leader's divergence file", async () => {
    const w1 = new Load(client, 'forced1', 2, 20000, 1);
    const w0 = new Load(client, 'forced0', 2, 20000, 0);
    await Promise.all([w1.until(200), w0.until(200)]);
    await cluster.kill(B);
    await Promise.all([w1.stop(), w0.stop()]);
    const r = await failover({
      urls: [`http://${A}`, `http://${C}`],
      shard: 'shard-0',
      force: true,
      token: '',
      timeoutMs: 20000,
    });
    assert.ok([A, C].includes(r.to));
    assert.deepEqual(r.unreached, [B]);
    for (const [k, v] of w1.acked)
      assert.equal((await client.get(k))?.toString(), v, `w=1 write ${k} survived`);
    const more = new Load(client, 'after-forced', 2, 20000);
    await more.until(200);
    await more.stop();
    // The old leader comes back: it adopts the newer map before serving, cuts its tail and follows.
    await cluster.startNode(B);
    assert.equal((await clusterOf(B)).map_version, r.mapVersion);
    const saved = await divergedOf(B);
    const lost = await lostWrites(w0.acked, saved.bytes);
    assert.ok(
      saved.records >= lost.length,
      `${saved.records} records saved, ${lost.length} acknowledged w=0 writes lost`,
    );
    await expectConverged(r.to, new Map([...w1.acked, ...more.acked]));
  });

  it('fences a leader that was paused (SIGSTOP) while a replica was promoted: on SIGCONT it rejoins and its tail is in the file', async () => {
    const leader = (await clusterOf(A)).shards[0]!.leader.address;
    const others = members().filter((m) => m !== leader);
    const before = await divergedOf(leader);
    const p = cluster.process(leader);
    await pauseProcess(p.child);
    let resumed = false;
    try {
      const r = await failover({
        urls: others.map((o) => `http://${o}`),
        shard: 'shard-0',
        force: true,
        token: '',
        timeoutMs: 20000,
      });
      assert.deepEqual(r.unreached, [leader]);
      // A client that still routes to the paused leader: its w=0 writes are taken in the old epoch.
      const stale = new DistkvClient({ urls: [`http://${leader}`], retries: 0 });
      // A client that knows only the nodes that answer, as an operator would point it after the failover.
      const moved = new DistkvClient({ urls: others.map((o) => `http://${o}`), timeoutMs: 3000 });
      const fresh = new Load(moved, 'after-stop', 2, 20000);
      p.child.kill('SIGCONT');
      resumed = true;
      const staleAcked = new Map<string, string>();
      for (let i = 0; i < 50; i++) {
        try {
          await stale.put(`stale-${i}`, `s${i}`);
          staleAcked.set(`stale-${i}`, `s${i}`);
        } catch {
          // refused once it learned the new map: fine
        }
      }
      await stale.close();
      await fresh.until(300);
      await fresh.stop();
      await moved.close();
      await waitFor(`${leader} to follow ${r.to}`, async () => (await storeOf(leader)).role === 'replica');
      await expectConverged(r.to, fresh.acked);
      const saved = await divergedOf(leader);
      const lost = await lostWrites(staleAcked, saved.bytes);
      assert.ok(
        saved.records - before.records >= lost.length,
        `${saved.records - before.records} records saved, ${lost.length} acknowledged stale writes lost`,
      );
    } finally {
      if (!resumed) p.child.kill('SIGCONT');
    }
  });
});
