/**
 * An upgrade from a release before history ids (docs/wal-format.md, "History ids"), leader first:
 * its replica, still on the old release (or upgraded but down), never pulls from the upgraded
 * leader before it is promoted (a planned failover during the rolling upgrade, or a forced one
 * while the leader is down). The two stores hold one history: the promoted replica's records 1..N
 * are the old leader's 1..N, and the new epoch starts at N + 1, which is all the epochs need to
 * say. When a leader named a history at its start whatever it held, the upgraded leader named one
 * and the promoted replica another; the old leader, returning as its replica, was answered as a
 * fork at 0: it wrote all N records to a divergence file "that the leader of epoch E never had"
 * (it has every one) and resynced from a full snapshot. Now only a history that begins (a leader
 * holding nothing) is named, so neither store is, and the epochs decide as before ids.
 *
 * The old release is simulated as the upgrade sees it: the stores' `history.json` removed while
 * the nodes are stopped (a store written before ids has none).
 */
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort } from '../helpers/ports.js';
import { putOk, shardStoresAt } from '../helpers/node-requests.js';
import { nodesFixture, runCli, startConfigNode, storeDirIn, writeConfig } from '../helpers/server-process.js';

describe(
  'upgrade: a replica promoted before it took its upgraded leader’s history id',
  { timeout: 180000 },
  () => {
    const { dir, running } = nodesFixture(after, 'distkv-upgrade-65-promoted-');

    it('takes the old leader back as its replica without a divergence file or a resync', async () => {
      const L = `127.0.0.1:${String(await freePort())}`;
      const R = `127.0.0.1:${String(await freePort())}`;
      const config = writeConfig(dir, [{ address: L, replicas: [R] }]);
      const lData = join(dir, 'L');
      const rData = join(dir, 'R');

      // 1. The old release: 100 writes both stores hold; then both stop, without history ids.
      let leader = await startConfigNode(config, L, lData, running);
      let replica = await startConfigNode(config, R, rData, running);
      for (let i = 0; i < 100; i++) await putOk(L, `a${String(i)}`, '?w=1&timeout_ms=5000');
      await replica.stop();
      await leader.stop();
      for (const d of [storeDirIn(lData, L), storeDirIn(rData, R)])
        rmSync(join(d, 'history.json'), { force: true });

      // 2. The leader is upgraded first, then goes down. Holding records from before ids, it names
      //    no history (it named one once, and the promoted replica below, naming its own, sent it a
      //    fork at 0 on its return: worker-leaders.ts beginHistory).
      leader = await startConfigNode(config, L, lData, running);
      const named = (await shardStoresAt(L)).get(L)?.history;
      assert.equal(named, undefined, 'a leader holding records from before ids names no history');
      await leader.stop();

      // 3. The replica, upgraded, is promoted while the leader is down (it never pulled from it).
      replica = await startConfigNode(config, R, rData, running);
      const fo = await runCli([
        'failover',
        '--url',
        `http://${R}`,
        '--shard',
        'shard-0',
        '--force',
        '--to',
        R,
      ]);
      assert.equal(fo.code, 0, `failover: ${fo.stdout}${fo.stderr}`);
      for (let i = 0; i < 20; i++) await putOk(R, `c${String(i)}`);

      // 4. The old leader returns: it holds 1..100 of the same history, and follows from 100.
      await startConfigNode(config, L, lData, running);
      let s: Record<string, unknown> = {};
      for (let t = 0; t < 150; t++) {
        s = (await shardStoresAt(L)).get(L) ?? {};
        if (s.role === 'replica' && s.lastSeq === 120) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(s.lastSeq, 120, `the returning leader follows: ${JSON.stringify(s).slice(0, 300)}`);
      const diverged = readdirSync(join(lData, L.replace(':', '_'))).filter((f) => f.includes('.diverged-'));
      assert.deepEqual(
        diverged,
        [],
        `records 1..100, the promoted replica's own, were saved as records its leader never had`,
      );
      assert.equal(s.resyncs, 0, 'the returning leader resynced from scratch where the epochs sufficed');
    });
  },
);
