/**
 * Two forced failovers of one shard at once, to different replicas, without a coordinator
 * (docs/failover.md, "Forced failover"): one shard led by A with replicas B and C, each its own
 * process; `w = 2` writes (both replicas hold each one), A killed, then `distkv failover --force
 * --to B` and `--force --to C` started together.
 *
 * Before: with no leader to hold, nothing serialized them. Each held its own target and published
 * map version 2 naming it: B and C each led the shard at version 2 (each refused the other's map
 * as a conflict), both commands reported success, and writes acknowledged by one leader were never
 * seen by the other. Now each claims the shard at every member it reaches, in one order, before it
 * chooses or promotes anything (a hold named `by`, refused while another's is held): the second
 * is refused (409 MAP_CHANGED) having changed nothing, and every node names one leader.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DistkvClient } from '../../src/client/client.js';
import { failover, type FailoverResult } from '../../src/cli/failover.js';
import { DistkvError } from '../../src/errors.js';
import type { TestCluster } from '../helpers/cluster.js';
import { clusterOf, expectConverged, Load, storeOf, waitFor } from '../helpers/failover-model.js';
import { startTogether } from '../helpers/start-together.js';
import { Trio } from '../helpers/trio.js';

describe('two forced failovers of one shard at once', { timeout: 150000 }, () => {
  let trio: Trio;
  let cluster: TestCluster;
  let client: DistkvClient;
  let A = '';
  let B = '';
  let C = '';
  let acked = new Map<string, string>();

  before(async () => {
    trio = await Trio.start('failover-forced-concurrent');
    ({ cluster, client, A, B, C } = trio);
    const load = new Load(client, 'before', 4, 300, 2);
    await load.until(200);
    await load.stop();
    acked = load.acked;
    // Both replicas at one seq, so neither target is refused as behind the other.
    await waitFor('B and C at the leader seq', async () => {
      const a = (await storeOf(A)).lastSeq;
      return (await storeOf(B)).lastSeq === a && (await storeOf(C)).lastSeq === a;
    });
    await cluster.kill(A);
  });

  after(async () => {
    await trio.stop();
  });

  it('promotes one target and refuses the other with MAP_CHANGED; every node names one leader; nothing acknowledged lost', async () => {
    const run = (to: string): Promise<FailoverResult> =>
      failover({
        urls: [`http://${B}`, `http://${C}`],
        shard: 'shard-0',
        to,
        force: true,
        token: '',
        timeoutMs: 5000,
      });
    // At once for sure (one started 25 ms late found the shard moved, refused as "the leader
    // answers", not MAP_CHANGED): C is paused until both commands have read the map at B.
    // Each reads the map at B (given first) and at every member: 2 reads at B each.
    const results = await startTogether(cluster.process(C).child, B, 4, () => [run(B), run(C)]);
    const done = results.filter((r) => r.status === 'fulfilled');
    assert.equal(done.length, 1, `one failover happened, got ${JSON.stringify(results)}`);
    const refused = results.find((r) => r.status === 'rejected');
    const reason = refused?.reason as unknown;
    assert.ok(reason instanceof DistkvError && reason.code === 'MAP_CHANGED', `refused: ${String(reason)}`);
    assert.match(reason.message, /another failover|run it again/);
    const leader = done[0]!.value.to;
    const follower = leader === B ? C : B;
    for (const m of [B, C])
      await waitFor(`${m} to name ${leader} the leader`, async () => {
        const d = await clusterOf(m);
        return d.shards[0]!.leader.address === leader;
      });
    const versions = await Promise.all([B, C].map(async (m) => (await clusterOf(m)).map.version));
    assert.equal(new Set(versions).size, 1, `one map version everywhere: ${versions.join(', ')}`);
    assert.equal((await storeOf(follower)).role, 'replica', `${follower} follows`);
    // Writes after the failover: every one acknowledged reads back from the surviving leader.
    const load = new Load(client, 'after', 4, 200, 1);
    await load.until(100);
    await load.stop();
    await expectConverged(client, [B, C], leader, new Map([...acked, ...load.acked]));
  });
});
