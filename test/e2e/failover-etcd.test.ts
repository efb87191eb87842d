/**
 * Automatic failover with etcd (docs/failover.md): a private etcd and one shard with a leader and two
 * replicas, each its own `distkv serve --node` process, lease TTL 1 s. Writes run through the client
 * library while the leader is killed (SIGKILL) or paused (SIGSTOP); the model is the set of
 * acknowledged w=1 writes, each of which must be readable afterwards, and every member must converge
 * to the new leader's content. Skipped only when no etcd binary exists.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { failover } from '../../src/cli/failover.js';
import { TestCluster } from '../helpers/cluster.js';
import { etcdMissing } from '../helpers/etcd.js';
import { coordinationToml, EtcdTrio, TRIO_TTL_MS } from '../helpers/etcd-trio.js';
import {
  clusterOf,
  expectConverged,
  leaderSeenBy,
  Load,
  storeOf,
  waitFor,
} from '../helpers/failover-model.js';
import { freePort } from '../helpers/ports.js';
import { parseRaw, type RawResponse, rawRequest } from '../helpers/raw-http.js';
import { runCli } from '../helpers/server-process.js';
import { pauseProcess } from '../helpers/process-pause.js';

/**
 * send makes one request on a connection of its own (closed after the answer); `written` is called
 * once its bytes are handed to the kernel.
 */
async function send(
  node: string,
  method: string,
  path: string,
  body: string,
  written: () => void = () => undefined,
): Promise<RawResponse> {
  const [host, port] = node.split(':') as [string, string];
  const text = await rawRequest(
    Number(port),
    `${method} ${path} HTTP/1.1\r\nHost: ${node}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    { host, idleMs: 60000, written },
  );
  return parseRaw(text);
}

describe('automatic failover with etcd', { timeout: 240000, skip: etcdMissing() }, () => {
  let trio: EtcdTrio;

  before(async () => {
    trio = await EtcdTrio.start('failover-etcd');
  });

  after(async () => {
    await trio.stop();
  });

  it('promotes the most advanced replica after kill -9 of the leader under write load; the old leader rejoins', async () => {
    const { members, client, cluster } = trio;
    // The configured leader, or a replica if it took longer than a lease TTL to start.
    let a = '';
    await waitFor('a leader to hold its lease', async () => {
      a = (await leaderSeenBy(members[0]!)) ?? '';
      return a !== '' && (await clusterOf(a)).shards[0]!.leader.writes_held !== true;
    });
    const load = new Load(client, 'kill', 4, 50000);
    await load.until(300);
    await cluster.kill(a);
    const others = members.filter((m) => m !== a);
    await waitFor(
      'a replica to be promoted',
      async () => {
        const l = await leaderSeenBy(others[0]!);
        return l !== undefined && l !== a;
      },
      15000,
    );
    const before = load.acked.size;
    await load.until(before + 300);
    await load.stop();
    const doc = await clusterOf(others[0]!);
    const leader = doc.shards[0]!.leader.address;
    assert.ok(others.includes(leader));
    assert.ok(doc.shards[0]!.epoch > 0, 'the epoch is an etcd revision');
    for (const o of others) assert.equal((await clusterOf(o)).map_version, doc.map_version);
    // The old leader comes back: it learns the map from etcd before it serves and follows.
    await cluster.startNode(a);
    assert.equal((await clusterOf(a)).shards[0]!.leader.address, leader);
    // Judged against its own map from before the kill (it led), the new leader's records would
    // make it a leader put back from an older copy: an ERROR advising a needless failover.
    assert.doesNotMatch(cluster.process(a).stdout, /LEADER BEHIND/);
    await waitFor(`${a} to follow`, async () => (await storeOf(a)).role === 'replica');
    await expectConverged(client, members, leader, load.acked);
  });

  it('a paused leader (SIGSTOP) fences itself at its deadline: on SIGCONT it executes no write in its old epoch, _batch included', async () => {
    const { members, client, cluster } = trio;
    const leader = (await leaderSeenBy(members[0]!))!;
    const others = members.filter((m) => m !== leader);
    const load = new Load(client, 'stop', 4, 50000);
    await load.until(200);
    const p = cluster.process(leader);
    await pauseProcess(p.child);
    let resumed = false;
    try {
      // Sent to the paused leader on new connections: read only after SIGCONT, before its timers run.
      const batch = send(
        leader,
        'POST',
        '/kv/_batch',
        JSON.stringify([{ op: 'set', key: 'paused-batch', value: 'x' }]),
      );
      const put = send(leader, 'PUT', '/kv/paused-put', 'x');
      await waitFor(
        'a replica to be promoted',
        async () => {
          const l = await leaderSeenBy(others[0]!);
          return l !== undefined && l !== leader;
        },
        15000,
      );
      const before = load.acked.size;
      await load.until(before + 200);
      p.child.kill('SIGCONT');
      resumed = true;
      const b = await batch;
      assert.equal(b.status, 200, b.body);
      const results = (JSON.parse(b.body) as { results: { ok: boolean; error?: { code: string } }[] })
        .results;
      // Refused, or (when the node adopted the new map first) forwarded to the new leader.
      const batchAcked = results[0]!.ok;
      const r = await put;
      assert.ok(r.status === 503 || r.status === 307, `the PUT was refused, got ${r.status} ${r.body}`);
      await load.until(load.acked.size + 200);
      await load.stop();
      const now = (await leaderSeenBy(others[0]!))!;
      await waitFor(`${leader} to follow ${now}`, async () => (await storeOf(leader)).role === 'replica');
      await expectConverged(client, members, now, load.acked);
      assert.equal(
        (await client.get('paused-batch'))?.toString(),
        batchAcked ? 'x' : undefined,
        'the batch was refused or executed by the new leader',
      );
      assert.equal(await client.get('paused-put'), undefined, 'the PUT was not executed');
    } finally {
      if (!resumed) p.child.kill('SIGCONT');
    }
  });

  // Three switches, each to the replica with the highest address: the old leader and the other
  // replica rank above it on equal seqs (ties go to the lowest address), so a replica that campaigned
  // while the target had not yet taken the key (the old leader lets its key go first) would win the
  // key and undo the failover, as it did before campaign-gate.ts.
  it('a planned failover (distkv failover) goes through etcd: the new leader takes the key, no acknowledged write is lost', async () => {
    const { members, client } = trio;
    const load = new Load(client, 'planned', 4, 50000);
    await load.until(200);
    try {
      for (let i = 0; i < 3; i++) {
        const doc = await clusterOf(members[0]!);
        const from = doc.shards[0]!.leader.address;
        const to = members.filter((m) => m !== from).sort((a, b) => (a < b ? 1 : -1))[0]!;
        const r = await failover({
          urls: members.map((m) => `http://${m}`),
          shard: 'shard-0',
          to,
          force: false,
          token: '',
          timeoutMs: 20000,
        });
        assert.equal(r.from, from);
        assert.equal(r.to, to);
        assert.deepEqual(r.unreached, []);
        // Every member learns the new map from its etcd watch, each in its own time; nobody takes the
        // shard back meanwhile.
        for (const m of members)
          await waitFor(`${m} to name ${r.to} as the leader`, async () => {
            const d = await clusterOf(m);
            assert.ok(
              d.map.version <= r.mapVersion,
              `${m} holds map ${d.map.version} after ${r.mapVersion}: ${JSON.stringify(d.map)}`,
            );
            return d.shards[0]!.leader.address === r.to;
          });
        await waitFor(`${r.to} to hold the leader key`, async () => {
          const d = await clusterOf(r.to);
          return d.shards[0]!.leader.writes_held !== true;
        });
        await load.until(load.acked.size + 100);
      }
    } finally {
      await load.stop();
    }
    const last = (await clusterOf(members[0]!)).shards[0]!.leader.address;
    await expectConverged(client, members, last, load.acked);
  });

  it('_batch is held like a single-key write by a leader past its lease deadline (SIGSTOP, no replica to take over)', async () => {
    const { dir, etcd } = trio;
    const solo = `127.0.0.4:${await freePort('127.0.0.4')}`;
    const soloDir = join(dir, 'solo');
    mkdirSync(soloDir);
    const one = await TestCluster.start({
      dir: soloDir,
      shards: [{ address: solo }],
      extraToml: coordinationToml(etcd.url),
    });
    try {
      await waitFor('the leader to hold its lease', async () => {
        const doc = await clusterOf(solo);
        return doc.shards[0]!.leader.writes_held !== true;
      });
      const p = one.process(solo);
      await pauseProcess(p.child);
      let answer: Promise<RawResponse>;
      try {
        // Its deadline is at most the send time of its last keepalive, before the pause, plus the
        // TTL less a drift margin (lease-deadline.ts): 900 ms. 1.5 s passes it with 600 ms to spare
        // (a late timer here only adds to that).
        await new Promise((r) => setTimeout(r, TRIO_TTL_MS + 500));
        // Read from its socket at SIGCONT, before its timers and any etcd answer: the lease deadline
        // has passed, and only the main thread's check can know it yet (the worker is not fenced).
        // SIGCONT waits until the bytes are in its socket: a fixed 200 ms let a test process 300 ms
        // late send them after the node had resumed and rightly taken its key back.
        let written!: () => void;
        const inSocket = new Promise<void>((r) => (written = r));
        answer = send(
          solo,
          'POST',
          '/kv/_batch',
          JSON.stringify([{ op: 'set', key: 'late-batch', value: 'x' }]),
          written,
        );
        await Promise.race([inSocket, answer]);
      } finally {
        p.child.kill('SIGCONT');
      }
      const b = await answer;
      assert.equal(b.status, 200, b.body);
      const result = (JSON.parse(b.body) as { results: { ok: boolean; error?: { code: string } }[] })
        .results[0]!;
      assert.equal(result.ok, false, `a write past the lease deadline was executed: ${b.body}`);
      assert.equal(result.error?.code, 'SWITCHING_LEADER');
      // It takes its key again (nobody else can) and writes resume.
      const soloClient = new DistkvClient({ urls: [`http://${solo}`] });
      try {
        await soloClient.put('after-pause', 'y');
        assert.equal(await soloClient.get('late-batch'), undefined, 'the held batch was not executed');
      } finally {
        await soloClient.close();
      }
    } finally {
      await one.stop();
    }
  });

  it('`distkv cluster` shows epochs and map version, and NO LEADER while etcd is unreachable', async () => {
    const { members, client, etcd } = trio;
    const ok = await runCli(['cluster', '--url', `http://${members[0]!}`]);
    assert.equal(ok.code, 0, ok.stderr);
    const epoch = (await clusterOf(members[0]!)).shards[0]!.epoch;
    assert.match(ok.stdout, new RegExp(`^0 shard-0\\s+0-16383\\s+${epoch}\\s+127\\.`, 'm'), ok.stdout);
    assert.match(ok.stdout, /live map version \d+/);
    await etcd.pause();
    try {
      await waitFor('the leader to fence itself', async () => {
        const r = await runCli(['cluster', '--url', `http://${members[0]!}`]);
        return /NO LEADER/.test(r.stdout);
      });
      const leader = (await leaderSeenBy(members[0]!))!;
      const r = await fetch(`http://${leader}/kv/no-lease`, { method: 'PUT', body: 'x' });
      assert.equal(r.status, 503, 'no write without a lease');
      // A planned failover needs etcd to publish the map: refused as unavailable, saying so, not
      // an internal error carrying the etcd client's text.
      const to = members.find((m) => m !== leader)!;
      const f = await runCli(['failover', '--url', `http://${leader}`, '--shard', 'shard-0', '--to', to]);
      assert.notEqual(f.code, 0, f.stdout);
      assert.match(f.stderr, /UNAVAILABLE/, f.stderr);
      assert.match(f.stderr, /etcd/, f.stderr);
      assert.doesNotMatch(f.stderr, /INTERNAL|Execution prevented|Resolution note/, f.stderr);
    } finally {
      etcd.resume();
    }
    const after = new Load(client, 'resumed', 2, 1000);
    await after.until(100);
    await after.stop();
  });
});
