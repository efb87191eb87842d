/**
 * A config change after a failover (docs/operations.md, "Changing the layout"; docs/failover.md,
 * "How a map spreads"): a shard's members change (a replica added) while another member than the
 * configured `address` leads it. Every node's live map then no longer fits the config. Before
 * (src/routing/map-refit.ts), every node started from the config's map: A led again in epoch 0,
 * the write B alone had acknowledged was gone (404 at the leader), and B, holding records of the
 * later epoch, was refused by A (STALE_LEADER) for good.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { failover } from '../../src/cli/failover.js';
import { TestCluster } from '../helpers/cluster.js';
import { clusterOf, storeOf, waitFor } from '../helpers/failover-model.js';
import { freePort } from '../helpers/ports.js';

describe('a config change after a failover', { timeout: 120000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'distkv-config-change-'));
  let cluster: TestCluster | undefined;
  after(async () => {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the leader, epochs and history when a replica is added: every acknowledged write stays served', async () => {
    const [A, B, C] = (await Promise.all(
      ['127.0.0.1', '127.0.0.2', '127.0.0.3'].map(async (h) => `${h}:${await freePort(h)}`),
    )) as [string, string, string];
    cluster = await TestCluster.start({ dir, shards: [{ address: A, replicas: [B] }] });
    const put = async (node: string, key: string): Promise<void> => {
      const r = await fetch(`http://${node}/kv/${key}`, { method: 'PUT', body: `v-${key}` });
      assert.equal(r.status, 204, `PUT ${key} at ${node}: ${r.status} ${await r.text()}`);
    };
    for (let i = 0; i < 20; i++) await put(A, `a${i}`);
    const moved = await failover({
      urls: [`http://${A}`],
      shard: 'shard-0',
      force: false,
      token: '',
      timeoutMs: 20000,
    });
    assert.equal(moved.to, B);
    await waitFor('A to follow B', async () => (await storeOf(A)).role === 'replica');
    for (let i = 0; i < 20; i++) await put(B, `b${i}`);
    const epoch = (await clusterOf(B)).map.shards[0]!.epoch;
    await waitFor('A to copy B', async () => (await storeOf(A)).lastSeq === (await storeOf(B)).lastSeq);
    // The write A has not copied when the nodes stop (w=1, acknowledged by B alone).
    await cluster.stopNode(A);
    await put(B, 'last');
    await cluster.stop();

    // The operator adds C as a replica, copying the file the cluster started with (A as address).
    cluster = await TestCluster.start({ dir, shards: [{ address: A, replicas: [B, C] }] });
    const routes = async (node: string): Promise<void> => {
      const s = (await clusterOf(node)).map.shards[0]!;
      assert.equal(s.leader, B, `${node} routes shard-0 to ${s.leader}, not to B which led it`);
      assert.ok(s.epoch >= epoch, `${node}: epoch ${s.epoch} went below ${epoch}`);
    };
    // A and B start from the maps they saved. C has none: it adopts a peer's at start or, when its
    // start-time peer round ran before A and B listened (the three start at once; on a loaded
    // machine one may be a second ahead), at its next peer check (docs/failover.md).
    for (const node of [A, B]) await routes(node);
    await waitFor(
      'C to adopt the live map of a peer',
      async () => (await clusterOf(C)).map.shards[0]!.leader === B,
    );
    await routes(C);
    for (const key of ['a0', 'b19', 'last']) {
      const r = await fetch(`http://${B}/kv/${key}`);
      assert.equal(r.status, 200, `${key}: ${r.status}`);
    }
    await waitFor('A and C to copy B', async () => {
      const b = (await storeOf(B)).lastSeq;
      return (await storeOf(A)).lastSeq === b && (await storeOf(C)).lastSeq === b;
    });
  });
});
