/**
 * Linearizability through a real network partition with etcd (docs/correctness.md, "A partition
 * of the leader"): one shard over three members, each a process in its own network namespace
 * (test/helpers/netns-trio.ts), lease TTL 1 s. The leader A is cut from etcd and from both
 * replicas at once (routes in its namespace), as Jepsen's partitions do; it keeps running, and the
 * test process, on its side of the cut, keeps sending it requests. Eight loops run the client
 * library over all three members (every write `w: 1`); four loops send single-key requests with
 * fetch to A only (writes `?w=1`), following its redirects as the library would.
 *
 * Sequence: load; partition A; wait until a replica leads (its map names it); load on both sides;
 * heal; wait until A follows the new leader; load; a final read of every key. What it checks: the
 * history is linearizable with the failover op from the partition to the moment the new leader was
 * seen named, at the new epoch's fork; A acknowledges no write and answers no read from one lease
 * TTL after the cut until the heal (docs/failover.md, "A leader without its lease does not answer
 * reads either"); and it is not trivial: operations answered on each side during the partition,
 * and after the heal. Skipped without etcd, or without root and `ip netns`. DISTKV_SEED replays the
 * operations' choices (not the timing).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { TRIO_TTL_MS } from '../helpers/etcd-trio.js';
import { etcdMissing } from '../helpers/etcd.js';
import { clusterOf, storeOf, waitFor } from '../helpers/failover-model.js';
import {
  electedOver,
  expectLinearizable,
  failoverOps,
  type FaultLoad,
  forkAt,
  leaderWithLease,
  startFaultLoad,
  untilRun,
} from '../helpers/lin-fault-load.js';
import { expectLinearizable as expectPlain, readAll, startLinLoad } from '../helpers/lin-load.js';
import type { Op } from '../helpers/linearizability.js';
import { NetnsTrio, netnsMissing } from '../helpers/netns-trio.js';
import { testSeed } from '../helpers/random.js';

const KEYS = ['lp-a', 'lp-b', 'lp-c', 'lp-d'];
/** REPLICA_KEYS are the second case's: its history is checked alone, with no failover op. */
const REPLICA_KEYS = ['lr-a', 'lr-b', 'lr-c', 'lr-d'];
/** ALL_LOOPS run through the library over every member; A_LOOPS send to the first leader only. */
const ALL_LOOPS = 8;
const A_LOOPS = 4;

/** answered tells whether an operation was answered by a register: a read's value or absence, an acknowledged or refused write. */
function answered(op: Op): boolean {
  return op.output.kind !== 'unknown';
}

describe(
  'linearizability through a partition of the leader from etcd and its replicas',
  { timeout: 180000, skip: etcdMissing() || netnsMissing() },
  () => {
    let trio: NetnsTrio;
    let kv: DistkvClient;

    before(async () => {
      trio = await NetnsTrio.start('lin-etcd-partition');
      kv = new DistkvClient({ urls: trio.members.map((m) => `http://${m}`), timeoutMs: 3000 });
    });

    /** loadOverAll starts ALL_LOOPS loops through the library over every member. */
    const loadOverAll = (seed: number, keys: readonly string[]): FaultLoad =>
      startFaultLoad({ seed, keys, loops: ALL_LOOPS, opsPerLoop: 3000, clientOf: () => kv, maxMs: 120_000 });

    after(async () => {
      await kv.close();
      await trio.stop();
    });

    it('is linearizable, and the cut-off leader answers nothing past its lease', async () => {
      const { members } = trio;
      const a = await leaderWithLease(members[0]!);
      const ai = members.indexOf(a);
      const others = members.filter((m) => m !== a);
      const seed = testSeed();
      const all = loadOverAll(seed, KEYS);
      const atA = startLinLoad({
        seed: seed + 1,
        keys: KEYS,
        loops: A_LOOPS,
        opsPerLoop: 3000,
        clientOf: () => kv,
        maxMs: 120_000,
        errorPauseMs: 25,
        raw: { share: 1, nodeOf: () => a, kinds: ['single'], writeQuery: 'w=1&timeout_ms=3000' },
      });
      let failover: Op[] = [];
      let fork = '';
      let cutAt = 0;
      let promotedAt = Infinity;
      let healAt = Infinity;
      let cut = false;
      let sentCutOff = 0;
      try {
        await untilRun(all, 'before the partition', 400, -Infinity, 10);
        await untilRun(atA, 'at the leader before the partition', 100);
        trio.partition(ai);
        cut = true;
        cutAt = performance.now();
        const now = await electedOver(others[0]!, a);
        promotedAt = performance.now();
        let epoch = 0;
        ({ fork, epoch } = await forkAt(others[0]!));
        failover = failoverOps(KEYS, cutAt, promotedAt, fork, epoch);
        await untilRun(all, 'on the new leader during the partition', 300, promotedAt);
        // A refuses them (not recorded, or unknown): count what was sent.
        const sentBefore = atA.count();
        await waitFor('requests sent to the cut-off leader', () =>
          Promise.resolve(atA.count() >= sentBefore + 40),
        );
        trio.heal(ai);
        cut = false;
        healAt = performance.now();
        sentCutOff = atA.count() - sentBefore;
        await waitFor(`${a} to follow ${now}`, async () => (await storeOf(a)).role === 'replica', 30_000);
        const rejoined = performance.now();
        await untilRun(all, 'after the heal', 300, rejoined);
        await untilRun(atA, 'sent to the old leader after the heal', 40, rejoined);
      } finally {
        if (cut) trio.heal(ai);
        all.stop();
        atA.stop();
        await Promise.all([all.done, atA.done]);
      }
      await readAll(all.recorder, kv, KEYS);

      // Past its lease (at most one TTL after the cut) and until the heal, A answers nothing.
      const lapsed = cutAt + TRIO_TTL_MS;
      const atALapsed = atA.recorder.ops.filter((op) => op.call > lapsed && op.ret < healAt);
      const answeredAtA = atALapsed.filter(answered);
      assert.deepEqual(answeredAtA, [], `${a} answered past its lease, cut off`);
      // Not trivial: the other side answered during the partition, and both after the heal.
      const duringOthers = all.recorder.ops.filter(
        (op) => op.call > promotedAt && op.ret < healAt && answered(op),
      );
      assert.ok(duringOthers.length >= 100, `${duringOthers.length} answers on the majority side`);
      const afterHealAtA = atA.recorder.ops.filter((op) => op.call > healAt && answered(op));
      assert.ok(afterHealAtA.length >= 10, `${afterHealAtA.length} answers sent to ${a} after the heal`);
      console.log(
        `sent to ${a} cut off, from the promotion to the heal: ${sentCutOff}, errors ${JSON.stringify([...atA.recorder.errors])}`,
      );
      all.recorder.ops.push(...atA.recorder.ops);
      expectLinearizable(all, failover, {
        seed,
        fork,
        since: promotedAt,
        after: 600,
      });
    });

    it('with a replica cut off instead, the leader stays, w=1 writes are acknowledged through the other, and nothing is undone', async (t) => {
      const { members } = trio;
      const leader = await leaderWithLease(members[0]!);
      const epoch = (await clusterOf(leader)).shards[0]!.epoch;
      const bi = members.findIndex((m) => m !== leader);
      const b = members[bi]!;
      const seed = testSeed();
      const load = loadOverAll(seed, REPLICA_KEYS);
      let cutAt = 0;
      let healAt = Infinity;
      let cut = false;
      try {
        await untilRun(load, 'before the partition', 300, -Infinity, 10);
        trio.partition(bi);
        cut = true;
        cutAt = performance.now();
        // Past a lease TTL: had the replica's silence cost the leader its lease, it would show now.
        await untilRun(load, `with ${b} cut off`, 300, cutAt + 2 * TRIO_TTL_MS);
        trio.heal(bi);
        cut = false;
        healAt = performance.now();
        const target = (await storeOf(leader)).lastSeq;
        await waitFor(`${b} to catch up`, async () => (await storeOf(b)).lastSeq >= target, 30_000);
        await untilRun(load, 'after the heal', 200, performance.now());
      } finally {
        if (cut) trio.heal(bi);
        load.stop();
        await load.done;
      }
      await readAll(load.recorder, kv, REPLICA_KEYS);
      const doc = await clusterOf(b);
      assert.equal(doc.shards[0]!.leader.address, leader, 'the leader did not change');
      assert.equal(doc.shards[0]!.epoch, epoch, 'no new epoch');
      const acked = load.recorder.ops.filter(
        (op) =>
          op.input.kind !== 'get' &&
          op.output.kind === 'ok' &&
          op.call > cutAt + 2 * TRIO_TTL_MS &&
          op.ret < healAt,
      );
      assert.ok(acked.length >= 50, `${acked.length} w=1 writes acknowledged with ${b} cut off`);
      expectPlain(t, load.recorder, seed, 800, `${acked.length} w=1 writes acknowledged with ${b} cut off; `);
    });
  },
);
