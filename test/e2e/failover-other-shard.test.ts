/**
 * Two planned failovers of different shards at once (docs/failover.md, "Who holds a shard"): two
 * shards over three `distkv serve --node` processes, each member of both (shard-0 led by A,
 * shard-1 by B), under write load. Both commands start from one map version V. Before, the second
 * to reach a member found a map newer than V there (the other shard's failover) and stopped with
 * 409 MAP_CHANGED, to be run again by hand; with etcd, its map V + 1 lost the compare-and-swap to
 * the other's. A failover now goes on over a newer map that changed only other shards' entries
 * (its map is rebuilt on the newer one and posted again), so both complete; two failovers of one
 * shard at once still yield exactly one. The same with etcd (skipped only without an etcd binary).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { failover, type FailoverResult } from '../../src/cli/failover.js';
import { DistkvError } from '../../src/errors.js';
import { TestCluster } from '../helpers/cluster.js';
import { etcdMissing, TestEtcd } from '../helpers/etcd.js';
import { coordinationToml } from '../helpers/etcd-trio.js';
import { clusterOf, Load, putAt, waitFor } from '../helpers/failover-model.js';
import { freeNodeAddress } from '../helpers/resp.js';
import { keyInSlots } from '../helpers/slot-keys.js';
import { startTogether } from '../helpers/start-together.js';

/** TRIES is how many pairs of failovers each test starts at once (each pair moves both shards). */
const TRIES = 3;
/** SLOTS are the two shards' slot ranges (two shards split 16384 slots evenly). */
const SLOTS: readonly (readonly [number, number])[] = [
  [0, 8191],
  [8192, 16383],
];

/** TwoShards is a running cluster of two shards over three members, and a client over all three. */
interface TwoShards {
  dir: string;
  cluster: TestCluster;
  client: DistkvClient;
  members: [string, string, string];
  etcd?: TestEtcd;
}

/** startTwoShards launches three members, each in both shards (shard-0 led by the first, shard-1 by the second). */
async function startTwoShards(name: string, withEtcd: boolean): Promise<TwoShards> {
  const dir = mkdtempSync(join(tmpdir(), `distkv-${name}-`));
  let etcd: TestEtcd | undefined;
  try {
    if (withEtcd) etcd = await TestEtcd.start();
    const members = (await Promise.all(
      ['127.0.0.1', '127.0.0.2', '127.0.0.3'].map((h) => freeNodeAddress(h)),
    )) as [string, string, string];
    const [A, B, C] = members;
    const cluster = await TestCluster.start({
      dir,
      shards: [
        { address: A, replicas: [B, C] },
        { address: B, replicas: [A, C] },
      ],
      ...(etcd === undefined ? {} : { extraToml: coordinationToml(etcd.url) }),
    });
    await cluster.following();
    const client = new DistkvClient({ urls: members.map((m) => `http://${m}`), timeoutMs: 3000 });
    return { dir, cluster, client, members, ...(etcd === undefined ? {} : { etcd }) };
  } catch (err) {
    await etcd?.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** stopTwoShards stops what startTwoShards started and removes its temp dir. */
async function stopTwoShards(t: TwoShards): Promise<void> {
  await t.client.close();
  await t.cluster.stop();
  await t.etcd?.stop();
  rmSync(t.dir, { recursive: true, force: true });
}

/**
 * leadersAt are the leaders of shard-0 and shard-1 in `node`'s map, its map version, and whether a
 * shard `node` leads holds its writes (elsewhere `writes_held` says only that this process may not
 * write it, as with etcd every process but the leaseholder).
 */
async function leadersAt(
  node: string,
): Promise<{ leaders: [string, string]; version: number; held: boolean }> {
  const d = await clusterOf(node);
  return {
    leaders: [d.shards[0]!.leader.address, d.shards[1]!.leader.address],
    version: d.map_version,
    held: d.shards.some((s) => s.leader.address === node && s.leader.writes_held === true),
  };
}

/** settled waits until every member names the same leaders at one map version, none holding writes, and answers them. */
async function settled(members: readonly string[]): Promise<[string, string]> {
  let leaders: [string, string] = ['', ''];
  let last = '';
  try {
    await waitFor('every member to route with one map, no writes held', async () => {
      const seen = await Promise.all(members.map((m) => leadersAt(m)));
      last = JSON.stringify(seen);
      leaders = seen[0]!.leaders;
      return seen.every(
        (s) => s.version === seen[0]!.version && s.leaders.join() === leaders.join() && !s.held,
      );
    });
  } catch (err) {
    throw new Error(`${(err as Error).message}; the members said ${last}`, { cause: err });
  }
  return leaders;
}

/**
 * expectWritesAt checks that each shard takes a write at its leader (a key of its slots, sent
 * there directly: 204, not a redirect nor 503), retried for a moment while a lease is renewed.
 */
async function expectWritesAt(leaders: readonly [string, string], tag: string): Promise<void> {
  for (const [i, leader] of leaders.entries()) {
    const [first, last] = SLOTS[i]!;
    const key = keyInSlots(first, last, (n) => `${tag}-s${String(i)}-${String(n)}`);
    let status = 0;
    await waitFor(`shard-${String(i)} to take a write at ${leader}`, async () => {
      status = await putAt(leader, key);
      return status === 204;
    });
    assert.equal(status, 204);
  }
}

/** nextOf is the member after `m` in `members` (round), skipping `not`. */
function nextOf(members: readonly string[], m: string, not?: string): string {
  for (let k = 1; k < members.length; k++) {
    const n = members[(members.indexOf(m) + k) % members.length]!;
    if (n !== not) return n;
  }
  throw new Error(`no member after ${m}`);
}

/**
 * bothShardsAtOnce runs TRIES pairs of planned failovers, each pair one of shard-0 and one of
 * shard-1 started together from one map (startTogether pauses a member until both commands read
 * the map at `seen`), under write load, and checks that every one completed, each shard at its
 * target and taking writes there, and that every acknowledged write reads back.
 */
async function bothShardsAtOnce(t: TwoShards): Promise<void> {
  const { cluster, client, members } = t;
  const load = new Load(client, 'other', 4, 50000);
  await load.until(200);
  const failures: string[] = [];
  for (let round = 0; round < TRIES; round++) {
    const [l0, l1] = await settled(members);
    const to: [string, string] = [nextOf(members, l0), nextOf(members, l1, nextOf(members, l0))];
    const seen = members.find((m) => m !== to[0] && m !== to[1]) ?? l0;
    const held = members.find((m) => m !== seen)!;
    const run = (shard: number): Promise<FailoverResult> =>
      failover({
        urls: [`http://${seen}`],
        shard: `shard-${String(shard)}`,
        to: to[shard]!,
        force: false,
        token: '',
        timeoutMs: 20000,
      });
    const results = await startTogether(cluster.process(held).child, seen, 4, () => [run(0), run(1)]);
    results.forEach((r, shard) => {
      if (r.status === 'rejected')
        failures.push(`round ${String(round)} shard-${String(shard)} → ${to[shard]!}: ${String(r.reason)}`);
    });
    const leaders = await settled(members);
    await expectWritesAt(leaders, `round${String(round)}`);
    for (const [shard, r] of results.entries())
      if (r.status === 'fulfilled') assert.equal(leaders[shard], to[shard], `shard-${String(shard)} moved`);
    await load.until(load.acked.size + 100);
  }
  await load.stop();
  assert.deepEqual(failures, [], 'every failover of a shard started with one of the other completed');
  const versions = await Promise.all(members.map(async (m) => (await clusterOf(m)).map_version));
  assert.equal(new Set(versions).size, 1, `one map version everywhere: ${versions.join(', ')}`);
  for (const [k, v] of load.acked) assert.equal((await client.get(k))?.toString(), v, `acknowledged ${k}`);
}

/**
 * oneShardTwice starts two planned failovers of shard-0 together, one to each of its replicas, and
 * checks that exactly one moved it, the other refused with MAP_CHANGED; shard-1 takes writes still.
 */
async function oneShardTwice(t: TwoShards): Promise<void> {
  const { cluster, members } = t;
  const [l0] = await settled(members);
  const replicas = members.filter((m) => m !== l0);
  const held = replicas[1]!;
  const run = (to: string): Promise<FailoverResult> =>
    failover({ urls: [`http://${l0}`], shard: 'shard-0', to, force: false, token: '', timeoutMs: 20000 });
  const results = await startTogether(cluster.process(held).child, l0, 4, () => replicas.map(run));
  const done = results.filter((r) => r.status === 'fulfilled');
  assert.equal(done.length, 1, `one failover happened, got ${JSON.stringify(results)}`);
  const reason = (results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason as unknown;
  assert.ok(reason instanceof DistkvError && reason.code === 'MAP_CHANGED', `refused: ${String(reason)}`);
  const leaders = await settled(members);
  assert.equal(leaders[0], (done[0] as PromiseFulfilledResult<FailoverResult>).value.to);
  await expectWritesAt(leaders, 'same');
}

describe('planned failovers of two shards at once', { timeout: 240000 }, () => {
  let t: TwoShards;

  before(async () => {
    t = await startTwoShards('failover-other-shard', false);
  });

  after(async () => {
    await stopTwoShards(t);
  });

  it('both complete, each shard taking writes at its new leader; nothing acknowledged lost', async () => {
    await bothShardsAtOnce(t);
  });

  it('two of one shard at once still move it once, the other refused with MAP_CHANGED', async () => {
    await oneShardTwice(t);
  });
});

describe(
  'planned failovers of two shards at once, with etcd',
  { timeout: 240000, skip: etcdMissing() },
  () => {
    let t: TwoShards;

    before(async () => {
      t = await startTwoShards('failover-other-shard-etcd', true);
    });

    after(async () => {
      await stopTwoShards(t);
    });

    it('both complete, each shard taking writes at its new leader; nothing acknowledged lost', async () => {
      await bothShardsAtOnce(t);
    });

    it('two of one shard at once still move it once, the other refused with MAP_CHANGED', async () => {
      await oneShardTwice(t);
    });
  },
);
