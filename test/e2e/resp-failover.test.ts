/**
 * The cluster commands after a failover (docs/failover.md): one shard led by node A with a replica
 * on node B, each its own process; a planned failover moves the leader to B. CLUSTER SLOTS, SHARDS
 * and NODES on either node must then name B as the master (what a cluster client refreshes its
 * slots from), and a write sent to A is redirected to B with -MOVED.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { failover } from '../../src/cli/failover.js';
import { nodeIdOf } from '../../src/resp/resp-address.js';
import { TestCluster } from '../helpers/cluster.js';
import { waitFor } from '../helpers/failover-model.js';
import { freeNodeAddress, respOf } from '../helpers/resp.js';
import { tempDir } from '../helpers/temp-dir.js';

let cluster: TestCluster;
let A = '';
let B = '';

before(async () => {
  A = await freeNodeAddress();
  B = await freeNodeAddress();
  cluster = await TestCluster.start({ dir, shards: [{ address: A, replicas: [B] }] });
});

after(async () => {
  await cluster.stop();
});

// Created here, not in before(): an after() registered inside a root before() runs as soon as that
// hook ends (Node 20) and would delete the directory under the running servers. Registered after
// the stop hook, so the servers stop before the directory is removed.
const dir = tempDir(after);

/** ask runs one command on a node's RESP port and returns its reply. */
async function ask(node: string, ...args: string[]): Promise<unknown> {
  const { host, port } = respOf(node);
  const redis = new Redis({ host, port, lazyConnect: true, maxRetriesPerRequest: 0 });
  await redis.connect();
  try {
    return await redis.call(args[0]!, ...args.slice(1));
  } finally {
    redis.disconnect();
  }
}

/** master returns the RESP port of the master of slot 0 in a CLUSTER SLOTS reply. */
function masterPort(slots: unknown): number {
  const [range] = slots as [number, number, [string, number, string], ...unknown[]][];
  assert.ok(range !== undefined, 'CLUSTER SLOTS has a range');
  assert.equal(range[0], 0);
  assert.equal(range[1], 16383);
  return range[2][1];
}

describe('RESP cluster commands follow the live map', { timeout: 120000 }, () => {
  it('name the configured leader before a failover', async () => {
    for (const n of [A, B]) assert.equal(masterPort(await ask(n, 'CLUSTER', 'SLOTS')), respOf(A).port);
  });

  it('name the new leader in CLUSTER SLOTS, SHARDS and NODES after a failover, on every node', async () => {
    assert.equal(await ask(A, 'SET', 'before', '1'), 'OK');
    const r = await failover({
      urls: [`http://${A}`],
      shard: '0',
      force: false,
      token: '',
      timeoutMs: 20000,
    });
    assert.equal(r.to, B);
    for (const n of [A, B]) {
      // A node leaves out the slots of a leader its last peer check found down (commands-cluster.ts):
      // on a loaded machine a check that timed out during the failover can leave B so for a round.
      await waitFor(
        `CLUSTER SLOTS on ${n} to list the slots`,
        async () => {
          return ((await ask(n, 'CLUSTER', 'SLOTS')) as unknown[]).length > 0;
        },
        15000,
      );
      assert.equal(masterPort(await ask(n, 'CLUSTER', 'SLOTS')), respOf(B).port, `CLUSTER SLOTS on ${n}`);

      const nodes = String(await ask(n, 'CLUSTER', 'NODES'))
        .trim()
        .split('\n')
        .map((line) => line.split(' '));
      const lineOf = (id: string): string[] => nodes.find((l) => l[0] === id) ?? [];
      const b = lineOf(nodeIdOf(B));
      const a = lineOf(nodeIdOf(A));
      assert.match(b[2] ?? '', /master/, `CLUSTER NODES on ${n}: B is a master`);
      assert.equal(b[8], '0-16383', `CLUSTER NODES on ${n}: B owns the slots`);
      assert.match(a[2] ?? '', /slave/, `CLUSTER NODES on ${n}: A is a replica`);
      assert.equal(a[3], nodeIdOf(B), `CLUSTER NODES on ${n}: A follows B`);
      assert.equal(a[8], undefined, `CLUSTER NODES on ${n}: A owns no slots`);

      const shards = (await ask(n, 'CLUSTER', 'SHARDS')) as unknown[][];
      assert.equal(shards.length, 1);
      const fields = shards[0]!;
      const members = fields[fields.indexOf('nodes') + 1] as unknown[][];
      const master = members.find((m) => m[m.indexOf('role') + 1] === 'master')!;
      assert.equal(master[master.indexOf('port') + 1], respOf(B).port, `CLUSTER SHARDS on ${n}`);
    }
    await assert.rejects(
      ask(A, 'SET', 'after', '2'),
      new RegExp(`MOVED \\d+ 127\\.0\\.0\\.1:${respOf(B).port}`),
    );
    assert.equal(await ask(B, 'SET', 'after', '2'), 'OK');
    assert.equal(await ask(B, 'GET', 'before'), '1');
  });
});
