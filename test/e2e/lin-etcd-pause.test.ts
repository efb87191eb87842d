/**
 * Linearizability of single-key operations through an automatic failover with etcd
 * (docs/failover.md, "Automatic failover with etcd"): one shard over three member processes,
 * lease TTL 1 s; 12 loops (six sharing one client and three with their own, each given all three
 * nodes; three sharing a client given only the first leader, with a timeout longer than the
 * pause, so their requests wait in its sockets and reach it as it resumes) run random gets, puts, compare-and-sets and deletes, every write with `w: 1`, on four hot
 * keys while the leader is paused (SIGSTOP) past its lease, a replica is elected, and the old
 * leader resumes (SIGCONT) and rejoins, and after.
 *
 * What it checks: the whole history is linearizable for each key with one allowance, the failover
 * op (test/helpers/linearizability.ts), from the pause to the moment a replica's map names the new
 * leader: the writes the old leader applied above the fork (the new epoch's firstSeq - 1) are
 * undone, and reads and 412s it answered before the pause may have seen them (docs/api.md, "Write
 * concern and what reads see"). Nothing else: no acknowledged write is above the fork, and a
 * resumed leader past its lease answers no read or write in its old epoch (docs/failover.md, "A
 * leader without its lease does not answer reads either"), so every answer after the pause comes
 * from the new leader's register. Skipped only when no etcd binary exists. DISTKV_SEED replays the
 * operations' choices (not the timing).
 */
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { etcdMissing } from '../helpers/etcd.js';
import { EtcdTrio } from '../helpers/etcd-trio.js';
import { leaderSeenBy, storeOf, waitFor } from '../helpers/failover-model.js';
import {
  electedOver,
  expectLinearizable,
  failoverOps,
  forkAt,
  leaderWithLease,
  startFaultLoad,
  untilRun,
} from '../helpers/lin-fault-load.js';
import type { Op } from '../helpers/linearizability.js';
import { pauseProcess } from '../helpers/process-pause.js';
import { testSeed } from '../helpers/random.js';

const LOOPS = 12;
const KEYS = ['le-a', 'le-b', 'le-c', 'le-d'];

describe(
  'linearizability through an automatic failover with etcd (leader paused past its lease)',
  { timeout: 150000, skip: etcdMissing() },
  () => {
    let trio: EtcdTrio;
    const clients: DistkvClient[] = [];

    before(async () => {
      trio = await EtcdTrio.start('lin-etcd-pause');
      await leaderWithLease(trio.members[0]!);
      await trio.cluster.following();
    });

    after(async () => {
      for (const c of clients) await c.close();
      await trio.stop();
    });

    it('is linearizable but for unacknowledged writes above the fork, which reads may have seen before the pause', async () => {
      const { members, cluster } = trio;
      const seed = testSeed();
      const urls = members.map((m) => `http://${m}`);
      const leader = (await leaderSeenBy(members[0]!))!;
      for (let i = 0; i < 4; i++) clients.push(new DistkvClient({ urls, timeoutMs: 3000 }));
      clients.push(new DistkvClient({ urls: [`http://${leader}`], timeoutMs: 30_000 }));
      const others = members.filter((m) => m !== leader);
      const load = startFaultLoad({
        seed,
        keys: KEYS,
        loops: LOOPS,
        opsPerLoop: 2000,
        // Loops 0-5 share clients[0]; loops 6-8 have one each; loops 9-11 share the one pinned to the leader.
        clientOf: (i) => clients[i < 6 ? 0 : i < 9 ? i - 5 : 4]!,
        maxMs: 100_000,
      });
      let failoverOpsOf: Op[] = [];
      let fork = '';
      let epoch = 0;
      let promotedAt = Infinity;
      const p = cluster.process(leader);
      let resumed = false;
      try {
        await untilRun(load, 'on the first leader', 600, -Infinity, 10);
        const pausedAt = performance.now();
        await pauseProcess(p.child);
        const now = await electedOver(others[0]!, leader, 20_000);
        promotedAt = performance.now();
        ({ fork, epoch } = await forkAt(others[0]!));
        failoverOpsOf = failoverOps(KEYS, pausedAt, promotedAt, fork, epoch);
        await untilRun(load, 'on the new leader', 300, promotedAt);
        p.child.kill('SIGCONT');
        resumed = true;
        await waitFor(`${leader} to follow ${now}`, async () => (await storeOf(leader)).role === 'replica');
        const rejoined = performance.now();
        await untilRun(load, 'with the old leader back', 300, rejoined);
      } finally {
        if (!resumed) p.child.kill('SIGCONT');
        load.stop();
        await load.done;
      }
      // Not trivial: the checker had reads, compare-and-sets and 412s on both sides of the failover.
      expectLinearizable(load, failoverOpsOf, { seed, fork, since: promotedAt, after: 600 });
    });
  },
);
