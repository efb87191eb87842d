/**
 * A replica that returns holding another history of its shard, at a seq its leader also reached,
 * must not keep it (docs/wal-format.md, "History ids"). The leader lost its data directory while
 * its replica was down, started empty, took new writes and was restarted once (a rolling upgrade)
 * before the replica came back. The replica's position (30, epoch 0) is then below what the leader
 * held at its start, so the leader's restart-fork check (docs/architecture.md, "Honest acks") does
 * not see it, and (epoch 0, seq 30) names both histories. Before history ids the replica pulled
 * 31..40 on top of its own 1..30, served keys the leader never had (`old5`, with
 * `X-Distkv-Lag: 0`), lacked `new1`..`new30`, and `distkv cluster` called it streaming with lag 0:
 * a failover to it would lose 30 acknowledged writes. Now its pull names its history id, the
 * leader answers it as a fork at 0, and it saves its records and resyncs: it holds exactly its
 * leader's keys.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { keysAt, putOk } from '../helpers/node-requests.js';
import { freePort } from '../helpers/ports.js';
import { nodesFixture, startConfigNode, writeConfig } from '../helpers/server-process.js';

describe('a replica holding another history below its leader’s start seq', { timeout: 180000 }, () => {
  const { dir, running } = nodesFixture(after, 'distkv-foreign-history-');

  it('does not keep the other history’s keys once it follows the leader', async () => {
    const L = `127.0.0.1:${String(await freePort())}`;
    const R = `127.0.0.1:${String(await freePort())}`;
    const config = writeConfig(dir, [{ address: L, replicas: [R] }]);
    const lData = join(dir, 'leader-1');
    const rData = join(dir, 'replica');

    // 1. The replica copies 30 writes of the first history, then is stopped (maintenance).
    let leader = await startConfigNode(config, L, lData, running);
    const replica = await startConfigNode(config, R, rData, running);
    for (let i = 1; i <= 30; i++) await putOk(L, `old${String(i)}`, '', `old${String(i)}`);
    for (let t = 0; t < 100 && (await keysAt(R)).length < 30; t++)
      await new Promise((r) => setTimeout(r, 100));
    assert.equal((await keysAt(R)).length, 30, 'the replica copied the first history');
    await replica.stop();
    await leader.stop();

    // 2. The leader's directory is lost: it starts empty (its replica is down), takes 40 writes,
    //    and is restarted once (e.g. an upgrade) before the replica comes back.
    const lData2 = join(dir, 'leader-2');
    leader = await startConfigNode(config, L, lData2, running);
    for (let i = 1; i <= 40; i++) await putOk(L, `new${String(i)}`, '', `new${String(i)}`);
    await leader.stop();
    await startConfigNode(config, L, lData2, running);

    // 3. The replica returns at (epoch 0, seq 30): below the leader's 40.
    await startConfigNode(config, R, rData, running);
    const want = await keysAt(L);
    assert.equal(want.length, 40);
    let got: string[] = [];
    for (let t = 0; t < 150; t++) {
      got = await keysAt(R);
      if (JSON.stringify(got) === JSON.stringify(want)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const foreign = got.filter((k) => k.startsWith('old'));
    assert.deepEqual(
      got,
      want,
      `the replica serves ${String(foreign.length)} keys its leader never had (${foreign.slice(0, 3).join(', ')}...) and lacks ${String(want.filter((k) => !got.includes(k)).length)} of the leader's`,
    );
    const old = await fetch(`http://${R}/kv/old5`, { signal: AbortSignal.timeout(10000) });
    assert.notEqual(
      old.status,
      200,
      `the replica served old5 (X-Distkv-Lag: ${String(old.headers.get('x-distkv-lag'))})`,
    );
    // Nothing is dropped silently: its 30 records of the other history are in a divergence file.
    const saved = (readdirSync(rData, { recursive: true }) as string[]).filter((f) =>
      /\.diverged-\d+-1-30\.log$/.test(f),
    );
    assert.equal(saved.length, 1, `divergence files under the replica's data directory: ${saved.join(', ')}`);
  });
});
