/**
 * The old leader a forced failover could not reach, resumed while clients still write to it
 * (docs/failover.md, "A paused or partitioned leader"): one shard led by A with replicas B and C,
 * each its own process, no coordinator. Clients write to A directly all along (HTTP `w=1`, HTTP
 * default `w=0`, RESP `SET`, RESP `SET` + `WAIT 1`: test/helpers/direct-writes.ts); A is paused
 * (SIGSTOP), `distkv failover --force` promotes a replica, a client writes `w=1` to the new
 * leader, and A is resumed (SIGCONT).
 *
 * What is claimed: A learns of the newer epoch within PEER_CHECK_MS + PEER_TIMEOUT_MS (+ slack
 * for a loaded machine) of its resume, from then on refuses or redirects every write, and never
 * acknowledges one again; no write acknowledged as replicated, by A or by the new leader, is
 * missing from the final state of the leader and the replicas; every `w=0` write A acknowledged
 * that the new leader lacks is in A's divergence file, and was sent before A learned.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { failover } from '../../src/cli/failover.js';
import { PEER_CHECK_MS, PEER_TIMEOUT_MS } from '../../src/server/peer-check.js';
import { checkDirectWrites, DirectWriters } from '../helpers/direct-writes.js';
import {
  divergedOf,
  dumpAt,
  expectConverged,
  leaderSeenBy,
  Load,
  storeOf,
  waitFor,
} from '../helpers/failover-model.js';
import { Trio } from '../helpers/trio.js';
import { pauseProcess } from '../helpers/process-pause.js';

/** SLACK_MS is what a loaded 2-core machine may add to the bound (the map's adoption, the turnover). */
const SLACK_MS = 2000;

describe(
  'a forced failover while the old leader is paused and written to directly',
  { timeout: 240000 },
  () => {
    let trio: Trio;

    before(async () => {
      trio = await Trio.start('failover-paused-leader');
    });

    after(async () => {
      await trio.stop();
    });

    it('the resumed leader refuses writes once it learns the new epoch; nothing acknowledged is lost silently', async (t) => {
      const { A, B, C, cluster } = trio;
      const first = await trio.preload(60);
      const direct = new DirectWriters(A, 'old');
      const toNew = new DistkvClient({ urls: [`http://${B}`, `http://${C}`] });
      const paused = cluster.process(A);
      let load: Load | undefined;
      let resumed = false;
      try {
        await waitFor('A to acknowledge direct writes', () =>
          Promise.resolve(direct.writes.filter((w) => w.acked).length >= 100),
        );
        await pauseProcess(paused.child);
        const moved = await failover({
          urls: [`http://${B}`, `http://${C}`],
          shard: 'shard-0',
          force: true,
          token: '',
          timeoutMs: 5000,
        });
        const leader = moved.to;
        load = new Load(toNew, 'new', 2, 2000, 1);
        await load.until(50);
        paused.child.kill('SIGCONT');
        resumed = true;
        const resumedAt = performance.now();
        // Writes go on at A until each kind was refused once: none sent after A learned may be
        // acknowledged (a w=1 write in flight through the pause waits out its timeout first).
        await waitFor('A to refuse a write of every kind', () => Promise.resolve(direct.everyKindRefused()));
        await direct.stop();
        await load.until(load.acked.size + 50);
        await load.stop();
        const learnedAt = direct.firstRefusal();
        t.diagnostic(
          `A refused its first write ${String(Math.round(learnedAt - resumedAt))} ms after SIGCONT; ${direct.count()}`,
        );
        assert.ok(
          learnedAt - resumedAt <= PEER_CHECK_MS + PEER_TIMEOUT_MS + SLACK_MS,
          `A took ${String(Math.round(learnedAt - resumedAt))} ms to refuse writes after it was resumed`,
        );
        const lateAcked = direct.writes.filter((w) => w.acked && w.sentAt > learnedAt);
        assert.deepEqual(
          lateAcked.map((w) => `${w.kind} ${w.key}: ${w.answer}`),
          [],
          'writes sent to A after it refused one are not acknowledged',
        );

        await waitFor('every node to name the new leader', async () =>
          (await Promise.all([A, B, C].map(leaderSeenBy))).every((l) => l === leader),
        );
        await waitFor('A to follow', async () => (await storeOf(A)).role === 'replica');
        const replicated = new Map([...first, ...load.acked]);
        for (const w of direct.writes) if (w.replicated) replicated.set(w.key, w.value);
        await expectConverged(toNew, [A, B, C], leader, replicated);
        const lost = checkDirectWrites(direct.writes, await dumpAt(leader), (await divergedOf(A)).bytes);
        for (const w of lost)
          assert.ok(w.sentAt <= learnedAt, `${w.kind} ${w.key} lost though sent after A refused writes`);
        const afterResume = lost.filter((w) => w.sentAt > resumedAt);
        t.diagnostic(
          `${String(lost.length)} acknowledged w=0 writes at A are not on ${leader}, each in A's divergence file; ${String(afterResume.length)} of them sent after SIGCONT (${afterResume.map((w) => w.kind).join(', ')})`,
        );
      } finally {
        if (!resumed) paused.child.kill('SIGCONT');
        await direct.stop();
        await load?.stop();
        await toNew.close();
      }
    });
  },
);

describe('a forced failover named past a replica paused with the old leader', { timeout: 240000 }, () => {
  let trio: Trio;

  before(async () => {
    trio = await Trio.start('failover-paused-pair');
  });

  after(async () => {
    await trio.stop();
  });

  it('the pair acknowledges w=1 writes only until the old leader learns the new epoch, each then saved in a divergence file', async (t) => {
    const { A, B, C, cluster } = trio;
    const first = await trio.preload(60);
    await waitFor('B and C at the leader seq', async () => {
      const a = (await storeOf(A)).lastSeq;
      return (await storeOf(B)).lastSeq === a && (await storeOf(C)).lastSeq === a;
    });
    const direct = new DirectWriters(A, 'old');
    const toNew = new DistkvClient({ urls: [`http://${B}`] });
    const pair = [cluster.process(A), cluster.process(C)];
    let load: Load | undefined;
    let resumed = false;
    try {
      await waitFor('A to acknowledge direct writes', () =>
        Promise.resolve(direct.writes.filter((w) => w.acked).length >= 100),
      );
      await Promise.all(pair.map((p) => pauseProcess(p.child)));
      // C does not answer: the operator names B, accepting to lose what only C holds.
      const moved = await failover({
        urls: [`http://${B}`],
        shard: 'shard-0',
        to: B,
        force: true,
        token: '',
        timeoutMs: 5000,
      });
      assert.equal(moved.to, B);
      // B's w=1 writes are acknowledged once A or C follows it.
      load = new Load(toNew, 'new', 2, 2000, 1);
      for (const p of pair) p.child.kill('SIGCONT');
      resumed = true;
      const resumedAt = performance.now();
      await load.until(50);
      await waitFor('A to refuse a write of every kind', () => Promise.resolve(direct.everyKindRefused()));
      await direct.stop();
      await load.until(load.acked.size + 50);
      await load.stop();
      const learnedAt = direct.firstRefusal();
      t.diagnostic(
        `A refused its first write ${String(Math.round(learnedAt - resumedAt))} ms after SIGCONT; ${direct.count()}`,
      );
      assert.ok(
        learnedAt - resumedAt <= PEER_CHECK_MS + PEER_TIMEOUT_MS + SLACK_MS,
        `A took ${String(Math.round(learnedAt - resumedAt))} ms to refuse writes after it was resumed`,
      );
      assert.deepEqual(
        direct.writes
          .filter((w) => w.acked && w.sentAt > learnedAt)
          .map((w) => `${w.kind} ${w.key}: ${w.answer}`),
        [],
        'writes sent to A after it refused one are not acknowledged',
      );
      await waitFor('every node to name B', async () =>
        (await Promise.all([A, B, C].map(leaderSeenBy))).every((l) => l === B),
      );
      await waitFor('A and C to follow', async () =>
        (await Promise.all([A, C].map(storeOf))).every((s) => s.role === 'replica'),
      );
      await expectConverged(toNew, [A, B, C], B, new Map([...first, ...load.acked]));
      const saved = Buffer.concat([(await divergedOf(A)).bytes, (await divergedOf(C)).bytes]);
      const lost = checkDirectWrites(direct.writes, await dumpAt(B), saved, true);
      for (const w of lost)
        assert.ok(w.sentAt <= learnedAt, `${w.kind} ${w.key} lost though sent after A refused writes`);
      const replicatedLost = lost.filter((w) => w.replicated);
      t.diagnostic(
        `${String(lost.length)} acknowledged writes at A are not on B, each in a divergence file; ${String(replicatedLost.length)} of them acknowledged as replicated (by C), ${String(replicatedLost.filter((w) => w.sentAt > resumedAt).length)} sent after SIGCONT`,
      );
    } finally {
      if (!resumed) for (const p of pair) p.child.kill('SIGCONT');
      await direct.stop();
      await load?.stop();
      await toNew.close();
    }
  });
});
