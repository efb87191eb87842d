/**
 * A forced failover run while the old leader comes back (docs/failover.md, "Forced failover"): one
 * shard led by A with replicas B and C, each its own process, no coordinator. A is killed; under a
 * `w = 1` write load through the client, A is restarted and `distkv failover --force` runs at
 * once. Whichever wins (the command promotes a replica, or it is refused because A answers again),
 * every node ends up naming one leader, which holds every acknowledged write, and the others hold
 * exactly its content: A's `w = 1` writes cannot be acknowledged while the command holds the
 * replicas, and the command refuses to go on once A answers again after it held them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DistkvClient } from '../../src/client/client.js';
import { failover } from '../../src/cli/failover.js';
import { DistkvError } from '../../src/errors.js';
import type { TestCluster } from '../helpers/cluster.js';
import { expectConverged, leaderSeenBy, Load, waitFor } from '../helpers/failover-model.js';
import { Trio } from '../helpers/trio.js';

describe('a forced failover while the old leader comes back', { timeout: 180000 }, () => {
  let trio: Trio;
  let cluster: TestCluster;
  let client: DistkvClient;
  let A = '';
  let B = '';
  let C = '';

  before(async () => {
    trio = await Trio.start('failover-leader-back');
    ({ cluster, client, A, B, C } = trio);
  });

  after(async () => {
    await trio.stop();
  });

  it('ends with one leader everywhere holding every acknowledged write', async () => {
    const first = await trio.preload();
    await cluster.kill(A);
    // Writes until stopped: with a cap, a load that ran out while A started (its writes failing
    // until the failover or A's start) could never reach the 50 more acknowledgements awaited below.
    const load = new Load(client, 'during', 2, 20000, 1);
    const [started, forced] = await Promise.allSettled([
      cluster.startNode(A),
      new Promise((r) => setTimeout(r, 200)).then(() =>
        failover({
          urls: [`http://${B}`, `http://${C}`],
          shard: 'shard-0',
          force: true,
          token: '',
          timeoutMs: 5000,
        }),
      ),
    ]);
    assert.equal(started.status, 'fulfilled', String((started as PromiseRejectedResult).reason));
    if (forced.status === 'rejected') {
      const err = forced.reason as unknown;
      assert.ok(err instanceof DistkvError, String(err));
      assert.match(err.message, /answers|run a planned failover|run it again|does not answer/, err.message);
    }
    await load.until(load.acked.size + 50);
    await load.stop();
    let leader = '';
    await waitFor('every node to name one leader', async () => {
      const seen = await Promise.all([A, B, C].map(leaderSeenBy));
      leader = seen[0] ?? '';
      return leader !== '' && seen.every((s) => s === leader);
    });
    if (forced.status === 'fulfilled') assert.equal(leader, forced.value.to);
    await expectConverged(client, [A, B, C], leader, new Map([...first, ...load.acked]));
  });
});
