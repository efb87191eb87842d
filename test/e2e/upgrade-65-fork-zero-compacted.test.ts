/**
 * A store answered as a fork at 0 (another history id: docs/wal-format.md, "History ids") saves
 * its records 1..N to a divergence file before it resyncs, reading them from its log. A store
 * whose log was compacted past seq 1 (a small `wal_retention_bytes`, enough writes) cannot: the
 * save fails ("records 1..N above the fork point are no longer in the log; keeping the store as it
 * is") at every pull, for good. The replica never follows again: it lacks every write made since,
 * logs at info that it is "waiting for the leader to come up (it does not answer yet)" although
 * its leader answers, and `distkv cluster` shows it "at seq 0, last contact never".
 *
 * Reached on an upgrade from a release before history ids, leader first, when the replica is
 * promoted before it pulled its upgraded leader's id (test/e2e/upgrade-65-promoted-before-history):
 * the old leader returns as its replica of "another history" that is its own. The old release is
 * simulated by removing the stores' `history.json` while they are stopped.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort } from '../helpers/ports.js';
import { putOk } from '../helpers/node-requests.js';
import { nodesFixture, runCli, startConfigNode, storeDirIn, writeConfig } from '../helpers/server-process.js';

/** VALUE is each write's value: ~400 bytes, so 1500 writes fill several log segments. */
const VALUE = `v-${'x'.repeat(400)}`;

describe('upgrade: a returning leader told it forked at 0 with a compacted log', { timeout: 240000 }, () => {
  const { dir, running } = nodesFixture(after, 'distkv-upgrade-65-compacted-');

  it('follows its new leader again', async () => {
    const L = `127.0.0.1:${String(await freePort())}`;
    const R = `127.0.0.1:${String(await freePort())}`;
    const small =
      '[storage]\nmemtable_bytes = 65536\nmax_runs = 1\nwal_segment_bytes = 65536\nwal_retention_bytes = 0\n';
    const config = writeConfig(dir, [{ address: L, replicas: [R] }], small);
    const lData = join(dir, 'L');
    const rData = join(dir, 'R');

    // 1. The old release: 1500 writes of ~400 bytes (several log segments, compacted away).
    let leader = await startConfigNode(config, L, lData, running);
    let replica = await startConfigNode(config, R, rData, running);
    // Eight writers at a time (one took ~1500 round trips in a row): the log holds the same records.
    const lanes = Array.from({ length: 8 }, async (_, lane) => {
      for (let i = lane; i < 1500; i += 8) await putOk(L, `a${String(i)}`, '?w=1&timeout_ms=5000', VALUE);
    });
    await Promise.all(lanes);
    await new Promise((r) => setTimeout(r, 1500));
    await replica.stop();
    await leader.stop();
    for (const d of [storeDirIn(lData, L), storeDirIn(rData, R)])
      rmSync(join(d, 'history.json'), { force: true });

    // 2. Leader upgraded first, then down; the replica promoted without having pulled from it.
    leader = await startConfigNode(config, L, lData, running);
    await leader.stop();
    replica = await startConfigNode(config, R, rData, running);
    const fo = await runCli(['failover', '--url', `http://${R}`, '--shard', 'shard-0', '--force', '--to', R]);
    assert.equal(fo.code, 0, `failover: ${fo.stdout}${fo.stderr}`);
    for (let i = 0; i < 20; i++) await putOk(R, `c${String(i)}`, '', VALUE);

    // 3. The old leader returns as the replica: it must come to hold the new leader's writes.
    await startConfigNode(config, L, lData, running);
    let status = 0;
    for (let t = 0; t < 200 && status !== 200; t++) {
      const r = await fetch(`http://${L}/kv/c19`, { redirect: 'manual', signal: AbortSignal.timeout(5000) });
      status = r.status;
      await r.arrayBuffer();
      if (status !== 200) await new Promise((res) => setTimeout(res, 100));
    }
    const cluster = await runCli(['cluster', '--url', `http://${R}`]);
    assert.equal(
      status,
      200,
      `the returning leader never follows its new leader:\n${cluster.stdout}${cluster.stderr}`,
    );
  });
});
