/**
 * A forced failover while the leader is down, then a lossy restart of that old leader with no peer
 * answering (no coordinator; docs/failover.md, "A leader restarting after a crash"): the old leader
 * raises its shard's epoch on its own, in a map of the same version as the failover's.
 *
 * Before: neither map extended the other; each node logged the conflict and kept its own, so A and B
 * both led the shard in one epoch until an operator published a newer map, each taking writes the
 * other never saw. Now the failover beats the restart (`mergedMap`): both converge on B leading, A
 * follows B, and the write A took alone in its restart epoch is in A's divergence file.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { failover } from '../../src/cli/failover.js';
import { TestCluster } from '../helpers/cluster.js';
import { clusterOf, divergedOf, dumpAt, storeOf, waitFor } from '../helpers/failover-model.js';
import { freePort } from '../helpers/ports.js';

/** put writes `key` at `node` with `w` replicas and returns the status. */
async function put(node: string, key: string, value: string, w: number): Promise<number> {
  const r = await fetch(`http://${node}/kv/${key}?w=${w}`, {
    method: 'PUT',
    body: value,
    redirect: 'manual',
  });
  await r.arrayBuffer();
  return r.status;
}

describe('a forced failover while the old leader restarts alone after a crash', { timeout: 180000 }, () => {
  let dir = '';
  let cluster: TestCluster;
  let A = '';
  let B = '';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'distkv-restart-after-failover-'));
    A = `127.0.0.1:${await freePort('127.0.0.1')}`;
    B = `127.0.0.2:${await freePort('127.0.0.2')}`;
    cluster = await TestCluster.start({
      dir,
      shards: [{ address: A, replicas: [B] }],
      extraToml: '[storage]\ndurability = "interval"\nfsync_interval_ms = 60000\n',
    });
  });

  after(async () => {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('converges on the failover: A follows B and saves what it took alone', async () => {
    for (let i = 0; i < 20; i++) assert.equal(await put(A, `k${i}`, `v${i}`, 1), 204);
    await cluster.kill(A);
    const r = await failover({
      urls: [`http://${B}`],
      shard: 'shard-0',
      force: true,
      token: '',
      timeoutMs: 5000,
    });
    assert.equal(r.to, B);
    // B, promoted in epoch 1 (map version 2), stops; A comes back alone after its crash.
    await cluster.stopNode(B);
    await cluster.startNode(A);
    const alone = await clusterOf(A);
    assert.deepEqual([alone.map_version, alone.map.shards[0]!.leader, alone.map.shards[0]!.epoch], [2, A, 1]);
    assert.equal(await put(A, 'only-a', 'lost', 0), 204, 'A leads alone in its restart epoch');
    await cluster.startNode(B);
    for (let i = 0; i < 5; i++) assert.equal(await put(B, `b${i}`, `w${i}`, 0), 204);
    await waitFor('both nodes to hold one map with B leading', async () => {
      const [a, b] = [await clusterOf(A), await clusterOf(B)];
      return JSON.stringify(a.map) === JSON.stringify(b.map) && a.map.shards[0]!.leader === B;
    });
    assert.equal((await clusterOf(B)).map_version, 3);
    await waitFor('A to follow B', async () => {
      const [a, b] = [await storeOf(A), await storeOf(B)];
      return a.role === 'replica' && a.lastSeq === b.lastSeq;
    });
    const [atA, atB] = [await dumpAt(A), await dumpAt(B)];
    assert.deepEqual([...atA].sort(), [...atB].sort(), 'A holds B content');
    assert.equal(atB.get('only-a'), undefined);
    for (let i = 0; i < 20; i++) assert.equal(atB.get(`k${i}`), `v${i}`, `acknowledged k${i}`);
    const diverged = await divergedOf(A);
    assert.ok(
      diverged.bytes.includes(Buffer.from('only-a')),
      'the write A took alone is in its divergence file',
    );
  });
});
