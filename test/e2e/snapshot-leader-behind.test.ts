/**
 * A leader restarted on an empty data directory while its replica holds the shard is held behind
 * it (src/server/behind-leaders.ts) and refuses every request on the shard with 503
 * LEADER_BEHIND: reads, writes, scans, watches and its replicas' pulls. Its snapshot stream
 * (`/_repl/snapshot`, what `distkv backup` reads) was not refused: the backup copied the empty
 * store as the shard ("0 keys at seq 0", consistent) and exited 0, and a restore of that file
 * lost every key of the shard. Now the snapshot is refused as a pull is, and the backup fails
 * naming the failover that brings the shard back, writing no file.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TestCluster } from '../helpers/cluster.js';
import { clusterOf, waitFor } from '../helpers/failover-model.js';
import { freePort } from '../helpers/ports.js';
import { runCli } from '../helpers/server-process.js';

describe('a leader held behind its replica', { timeout: 60000 }, () => {
  let dir = '';
  let cluster: TestCluster;
  let A = '';
  let B = '';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'distkv-snapshot-behind-'));
    A = `127.0.0.1:${String(await freePort('127.0.0.1'))}`;
    B = `127.0.0.2:${String(await freePort('127.0.0.2'))}`;
    cluster = await TestCluster.start({ dir, shards: [{ address: A, replicas: [B] }] });
  });

  after(async () => {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses its snapshot, and distkv backup fails instead of copying an empty shard', async () => {
    for (let i = 0; i < 5; i++) {
      const r = await fetch(`http://${A}/kv/k${String(i)}?w=1&timeout_ms=10000`, {
        method: 'PUT',
        body: 'v',
      });
      assert.equal(r.status, 204, await r.text());
    }
    await cluster.kill(A);
    rmSync(join(dir, A.replace(/[:.]/g, '_')), { recursive: true, force: true });
    await cluster.startNode(A);
    await waitFor(`${A} is held behind ${B}`, async () => {
      const doc = await clusterOf(A);
      return (doc.shards[0]!.leader as { behind?: unknown }).behind !== undefined;
    });

    const snap = await fetch(`http://${A}/_repl/snapshot?shard=0`);
    const body = await snap.text();
    assert.equal(snap.status, 503, body);
    assert.match(body, /LEADER_BEHIND/);

    const file = join(dir, 'all.dkv');
    const r = await runCli(['backup', file, '--url', A]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /LEADER_BEHIND: .*distkv failover --shard shard-0 --to /);
    assert.match(r.stderr, /all\.dkv was not written/);
    assert.equal(existsSync(file), false, 'no backup of an empty shard');
  });
});
