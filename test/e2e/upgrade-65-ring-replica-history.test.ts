/**
 * A replica on another worker of its leader's process (`npm start`'s shape: leaders and replicas
 * in one process, a ring per pair) never takes its leader's history id (docs/wal-format.md,
 * "History ids") when it is caught up as it starts: its first pull, to the leader's log, is
 * answered with nothing new and RingSource drops that answer (and its `X-Distkv-History`) to wait
 * on the ring, whose batches carry no id. A fresh cluster's replica, or one upgraded from a
 * release before ids, stays without one. Promoted by a planned failover, it names a new history,
 * and the old leader, now its replica, is answered as a fork at 0: every record it holds goes to a
 * divergence file "that the leader of epoch E never had" (the new leader has each one) and it
 * resyncs from a full snapshot (and with a log compacted past seq 1 it cannot save them, and
 * never follows again: test/e2e/upgrade-65-fork-zero-compacted).
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { putOk, shardStoresAt } from '../helpers/node-requests.js';
import { freePort } from '../helpers/ports.js';
import { type OwnServer, runCli, startOwnServer } from '../helpers/server-process.js';

describe('a replica on another worker of its leader’s process', { timeout: 120000 }, () => {
  let own: OwnServer | undefined;
  after(async () => {
    await own?.stop();
  });

  it('takes its leader’s history id, and the leader it replaces follows it without a resync', async () => {
    const L = `127.0.0.1:${String(await freePort())}`;
    const R = `127.0.0.1:${String(await freePort())}`;
    own = await startOwnServer([{ address: L, replicas: [R] }], '', ['--workers', '2']);
    // The replica's first pull answered (nothing to copy yet): it follows the ring from here.
    let s = await shardStoresAt(L);
    for (let t = 0; t < 100 && s.get(R)?.replicaState !== 'streaming'; t++) {
      await new Promise((r) => setTimeout(r, 100));
      s = await shardStoresAt(L);
    }
    assert.equal(s.get(R)?.replicaState, 'streaming');
    for (let i = 0; i < 50; i++) await putOk(L, `a${String(i)}`, '?w=1&timeout_ms=5000', 'v');
    s = await shardStoresAt(L);
    for (let t = 0; t < 50 && s.get(R)?.history !== s.get(L)?.history; t++) {
      await new Promise((r) => setTimeout(r, 100));
      s = await shardStoresAt(L);
    }
    const ids = { leader: s.get(L)?.history, replica: s.get(R)?.history };
    assert.equal(typeof ids.leader, 'string');

    const fo = await runCli(['failover', '--url', `http://${L}`, '--shard', 'shard-0', '--to', R]);
    assert.equal(fo.code, 0, `failover: ${fo.stdout}${fo.stderr}`);
    for (let i = 0; i < 10; i++) await putOk(R, `c${String(i)}`, '', 'v');
    for (let t = 0; t < 100 && s.get(L)?.lastSeq !== 60; t++) {
      await new Promise((r) => setTimeout(r, 100));
      s = await shardStoresAt(L);
    }
    const diverged = readdirSync(join(own.dir, 'data', L.replace(':', '_'))).filter((f) =>
      f.includes('.diverged-'),
    );
    assert.deepEqual(
      { diverged, resyncs: s.get(L)?.resyncs },
      { diverged: [], resyncs: 0 },
      `the old leader was told it forked at 0 (history ids before the failover: ${JSON.stringify(ids)})`,
    );
  });
});
