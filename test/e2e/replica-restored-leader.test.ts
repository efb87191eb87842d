/**
 * A leader whose data directory is put back from an older copy of itself (a VM snapshot, a
 * file-level backup) keeps its history id and epoch with fewer records, and writes new records at
 * seqs its replica holds other records at (docs/failover.md, "A leader put back from an older copy
 * of itself"). Here it also restarted once more before its replica returned, so the replica's
 * position (100) is below what the leader held at its start (130: its restart-fork check does not
 * see it) and below its last seq (no REPLICA_AHEAD), and (history id, epoch 0, seq 100) names both
 * logs. Before the record ladder the replica pulled 101..130 on top of its own 1..100: it served
 * the 50 writes the restore lost (`lost-*`, with `X-Distkv-Lag: 0`), lacked 50 of the 80 the
 * leader acknowledged since, and `distkv cluster` called it streaming. Now its first pull names the
 * crcs of some of its records (src/replication/record-ladder.ts); the leader's differ from seq 51
 * on, so it answers a fork at the highest matching one below (36), and the replica saves its
 * records above it to a divergence file and resyncs: it holds exactly its leader's keys.
 */
import assert from 'node:assert/strict';
import { cpSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { keysAt, putOk, waitKeys } from '../helpers/node-requests.js';
import { freePort } from '../helpers/ports.js';
import { nodesFixture, runCli, startConfigNode, writeConfig } from '../helpers/server-process.js';

/** names lists `prefix-001`..`prefix-<n>`. */
function names(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}-${String(i + 1).padStart(3, '0')}`);
}

describe('a replica whose leader was put back from an older copy of itself', { timeout: 240000 }, () => {
  const { dir, running } = nodesFixture(after, 'distkv-restored-leader-');

  it('saves its records the leader no longer has and follows the leader’s, not its own', async () => {
    const L = `127.0.0.1:${String(await freePort())}`;
    const R = `127.0.0.1:${String(await freePort())}`;
    const config = writeConfig(dir, [{ address: L, replicas: [R] }]);
    const lData = join(dir, 'leader');
    const aside = join(dir, 'leader-copy');
    const rData = join(dir, 'replica');
    const kept = names('kept', 50);
    const lost = names('lost', 50);
    const fresh = names('new', 80);

    // 1. 50 writes, copied by the replica; the leader stops cleanly and its directory is copied aside.
    let leader = await startConfigNode(config, L, lData, running);
    const replica = await startConfigNode(config, R, rData, running);
    for (const k of kept) await putOk(L, k, '', k);
    assert.deepEqual(await waitKeys(R, kept), kept, 'the replica copied the first 50 writes');
    await leader.stop();
    cpSync(lData, aside, { recursive: true });

    // 2. 50 more writes, which the replica copies too (it holds seqs 1..100); then it is stopped.
    leader = await startConfigNode(config, L, lData, running);
    for (const k of lost) await putOk(L, k, '', k);
    const hundred = [...kept, ...lost].sort();
    assert.deepEqual(await waitKeys(R, hundred), hundred, 'the replica copied all 100 writes');
    await replica.stop();

    // 3. The leader's directory is put back from the copy (50 records, same history id and epoch):
    //    it takes 80 writes at seqs 51..130 (acknowledged, its replica is down), and is restarted
    //    once more before the replica returns.
    await leader.stop();
    rmSync(lData, { recursive: true, force: true });
    cpSync(aside, lData, { recursive: true });
    leader = await startConfigNode(config, L, lData, running);
    for (const k of fresh) await putOk(L, k, '', k);
    await leader.stop();
    await startConfigNode(config, L, lData, running);
    const want = [...kept, ...fresh].sort();
    assert.deepEqual(await keysAt(L), want, 'the leader holds the copy’s 50 keys and its 80 new ones');

    // 4. The replica returns at seq 100: it ends with exactly its leader's keys.
    await startConfigNode(config, R, rData, running);
    const got = await waitKeys(R, want);
    const foreign = got.filter((k) => k.startsWith('lost-'));
    assert.deepEqual(
      got,
      want,
      `the replica serves ${String(foreign.length)} keys its leader no longer has (${foreign.slice(0, 3).join(', ')}...) and lacks ${String(want.filter((k) => !got.includes(k)).length)} of the leader's`,
    );
    const old = await fetch(`http://${R}/kv/lost-005`, { signal: AbortSignal.timeout(10000) });
    assert.notEqual(
      old.status,
      200,
      `the replica served lost-005 (X-Distkv-Lag: ${String(old.headers.get('x-distkv-lag'))})`,
    );

    // Nothing is dropped silently: its records above the fork (seq 36, the highest of its ladder
    // below seq 51 that matched) are in a divergence file beside its store, the lost writes among them.
    const saved = (readdirSync(rData, { recursive: true }) as string[]).filter((f) =>
      /\.diverged-\d+-37-100\.log$/.test(f),
    );
    assert.equal(saved.length, 1, `divergence files under the replica's data directory: ${saved.join(', ')}`);
    const file = readFileSync(join(rData, saved[0]!));
    const missing = lost.filter((k) => !file.includes(k));
    assert.deepEqual(missing, [], 'the divergence file holds every write the restore lost');

    // 5. `distkv cluster` shows the replica following its leader.
    let shown = '';
    for (let t = 0; t < 50; t++) {
      shown = (await runCli(['cluster', '--url', `http://${L}`])).stdout;
      if (new RegExp(`${R.replaceAll('.', '\\.')} \\(streaming`).test(shown)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.match(shown, new RegExp(`${R.replaceAll('.', '\\.')} \\(streaming`), shown);

    // A ladder that is not one is the puller's mistake: 400 naming it, before any record is read;
    // so is one of another shape than a replica's (each entry may be a read of an older segment).
    const spread = Array.from({ length: 10 }, (_, i) => `${String(100 - i * 11)}:1`).join(',');
    for (const bad of ['9:zz', '200:1', '3:1,5:1', '100:1,97:1', spread]) {
      const r = await fetch(
        `http://${L}/_repl/pull?shard=0&after=100&epoch=0&wait_ms=0&replica=${encodeURIComponent(R)}&ladder=${bad}`,
        { signal: AbortSignal.timeout(10000) },
      );
      const body = (await r.json()) as { error: { code: string; message: string } };
      assert.equal(r.status, 400, `ladder=${bad}: ${JSON.stringify(body)}`);
      assert.equal(body.error.code, 'INVALID_ARGUMENT');
      assert.match(body.error.message, /^ladder must be/);
    }
  });
});
