/**
 * The random scenario of the forced-failover linearizability tests (test/e2e/lin-forced-kill*.test.ts):
 * on a Trio (one shard, leader and two replicas, each its own process), lin-fault-load.ts's 12
 * loops (six sharing one client, six with their own) run until 600 operations on the first leader
 * (10 compare-and-sets succeeded), then `beforeKill` (if any), kill -9 of the leader, `afterKill`
 * (if any), `distkv failover --force` to the others, and 600 more operations on the new leader.
 */
import { DistkvClient } from '../../src/client/client.js';
import { failover } from '../../src/cli/failover.js';
import { leaderSeenBy, waitFor } from './failover-model.js';
import type { ReadOptions } from './history-recorder.js';
import { type FaultLoad, failoverOps, forkAt, startFaultLoad, untilRun } from './lin-fault-load.js';
import type { Op } from './linearizability.js';
import type { Trio } from './trio.js';

const LOOPS = 12;

/** ForcedKillRun is what a run gives its checks: the load, the failover's ops, the fork and when the new leader was named. */
export interface ForcedKillRun {
  load: FaultLoad;
  failover: Op[];
  fork: string;
  promotedAt: number;
}

/**
 * runForcedKill runs the scenario on `trio` with `seed` over `keys`, every read with `read`;
 * `beforeKill(load, others)` runs just before the kill, `afterKill(others)` just after. The clients it makes go into `clients`
 * (the caller closes them).
 */
export async function runForcedKill(
  trio: Trio,
  clients: DistkvClient[],
  o: {
    seed: number;
    keys: readonly string[];
    read?: ReadOptions;
    beforeKill?: (load: FaultLoad, others: string[]) => Promise<void>;
    afterKill?: (others: string[]) => Promise<void>;
  },
): Promise<ForcedKillRun> {
  const urls = trio.members.map((m) => `http://${m}`);
  const made = clients.length;
  for (let i = 0; i <= LOOPS / 2; i++) clients.push(new DistkvClient({ urls, timeoutMs: 3000 }));
  const load = startFaultLoad({
    seed: o.seed,
    keys: o.keys,
    loops: LOOPS,
    opsPerLoop: 2000,
    // Loops 0-5 share the first client; loops 6-11 have one each.
    clientOf: (i) => clients[made + (i < LOOPS / 2 ? 0 : i - LOOPS / 2 + 1)]!,
    maxMs: 90_000,
    ...(o.read === undefined ? {} : { read: o.read }),
  });
  let leader = '';
  await waitFor('a member to name the leader', async () => {
    for (const m of trio.members) leader ||= (await leaderSeenBy(m)) ?? '';
    return leader !== '';
  });
  const others = trio.members.filter((m) => m !== leader);
  try {
    await untilRun(load, 'on the first leader', 600, -Infinity, 10);
    await o.beforeKill?.(load, others);
    const killedAt = performance.now();
    await trio.cluster.kill(leader);
    await o.afterKill?.(others);
    const r = await failover({
      urls: others.map((m) => `http://${m}`),
      shard: 'shard-0',
      force: true,
      token: '',
      timeoutMs: 20000,
    });
    const promotedAt = performance.now();
    const { fork, epoch } = await forkAt(r.to);
    await untilRun(load, 'on the new leader', 600, promotedAt);
    return { load, failover: failoverOps(o.keys, killedAt, promotedAt, fork, epoch), fork, promotedAt };
  } finally {
    load.stop();
    await load.done;
  }
}
