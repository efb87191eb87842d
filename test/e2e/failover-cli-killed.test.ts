/**
 * A `distkv failover` killed (SIGKILL) between its steps leaves its holds behind (docs/failover.md,
 * "Who holds a shard"): they run out by themselves, the shard takes writes again, and a failover
 * run meanwhile is refused naming the holder and how long its hold lasts (MAP_CHANGED), then
 * succeeds once it ran out. One shard led by A with replicas B and C, each its own process.
 *
 * 1. Planned, killed while it waits for its target to catch up: C's following is held, so the
 *    command holds A's writes and waits; it is killed there.
 * 2. Forced, killed once it claimed the replicas (the leader is killed first): its claims are
 *    placed by hand with the requests the command sends (a test cannot stop the command between
 *    two of its own requests).
 * No acknowledged write is lost either way.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DistkvClient } from '../../src/client/client.js';
import { failover } from '../../src/cli/failover.js';
import { DistkvError } from '../../src/errors.js';
import type { TestCluster } from '../helpers/cluster.js';
import { clusterOf, expectConverged, Load, putAt, waitFor } from '../helpers/failover-model.js';
import { Trio } from '../helpers/trio.js';
import { ServerProcess } from '../helpers/server-process.js';

describe('a failover command killed between its steps', { timeout: 180000 }, () => {
  let trio: Trio;
  let cluster: TestCluster;
  let client: DistkvClient;
  let A = '';
  let B = '';
  let C = '';
  const acked = new Map<string, string>();

  before(async () => {
    trio = await Trio.start('failover-cli-killed');
    ({ cluster, client, A, B, C } = trio);
    for (const [k, v] of await trio.preload()) acked.set(k, v);
  });

  after(async () => {
    await trio.stop();
  });

  it('planned, killed while its target catches up: the next is refused naming it, writes come back, then it runs', async () => {
    // C stops following (an operator's hold, without `by`: no claim) and falls behind, so the
    // command waits for it with A's writes held.
    const hold = (on: 0 | 1) =>
      fetch(`http://${C}/_admin/fence?shard=0&on=${on}&ms=60000`, { method: 'POST' });
    assert.equal((await hold(1)).status, 200);
    let cli: ServerProcess | undefined;
    try {
      const load = new Load(client, 'behind', 2, 40, 1);
      await load.until(20);
      await load.stop();
      for (const [k, v] of load.acked) acked.set(k, v);
      cli = ServerProcess.spawn(
        // Holds of 3 s + 4 s: the default slack (10 s) made the wait for them to run out most of
        // this case's time, and what runs them out (the node's own limit) is the same. 4 s, not
        // less: the refusals below must come while A still holds, on a loaded machine too.
        [
          'failover',
          '--shard',
          'shard-0',
          '--to',
          C,
          '--url',
          A,
          '--timeout-ms',
          '3000',
          '--hold-slack-ms',
          '4000',
        ],
        { DISTKV_TOKEN: '', DISTKV_URL: '' },
      );
      await waitFor(
        'the command to hold A',
        async () => (await clusterOf(A)).shards[0]!.leader.writes_held === true,
      );
      cli.child.kill('SIGKILL');
      await cli.waitExit();
      cli = undefined;
    } finally {
      cli?.child.kill('SIGKILL');
      assert.equal((await hold(0)).status, 200);
    }
    assert.equal(await putAt(A, 'held'), 503, 'A holds writes for the dead command');
    await assert.rejects(
      failover({ urls: [`http://${A}`], shard: 'shard-0', to: B, force: false, token: '', timeoutMs: 5000 }),
      (err: unknown) => {
        assert.ok(err instanceof DistkvError && err.code === 'MAP_CHANGED', String(err));
        assert.match(
          err.message,
          /held by another failover \(failover-\d+-[0-9a-f]+ for \d+ ms more\).*run it again/,
        );
        // The hold the command asked for: --timeout-ms plus --hold-slack-ms.
        const more = Number(/for (\d+) ms more/.exec(err.message)![1]);
        assert.ok(more <= 7000, `held for ${more} ms more`);
        return true;
      },
    );
    // Its hold runs out (the timeout plus the 4 s of slack) and A takes writes again by itself.
    await waitFor('A to take writes again', async () => (await putAt(A, 'free')) === 204, 30000);
    acked.set('free', 'v');
    const r = await failover({
      urls: [`http://${A}`],
      shard: 'shard-0',
      to: B,
      force: false,
      token: '',
      timeoutMs: 10000,
    });
    assert.equal(r.to, B);
    await expectConverged(client, [A, B, C], B, acked);
  });

  it('forced, killed once it claimed the replicas: the next is refused naming it, then it runs once the claims ran out', async () => {
    await cluster.kill(B);
    // What the command sends, replica by replica in address order, before it promotes anything.
    // Claims of 5 s: the refusal below comes within a second of them, and the wait for them to
    // run out is the rest (10 s claims made this case twice as long, testing nothing more).
    for (const r of [A, C].sort()) {
      const res = await fetch(`http://${r}/_admin/fence?shard=0&on=1&ms=5000&by=failover-1-dead`, {
        method: 'POST',
      });
      assert.equal(res.status, 200, await res.text());
    }
    const force = () =>
      failover({
        urls: [`http://${A}`, `http://${C}`],
        shard: 'shard-0',
        force: true,
        token: '',
        timeoutMs: 5000,
      });
    await assert.rejects(force(), (err: unknown) => {
      assert.ok(err instanceof DistkvError && err.code === 'MAP_CHANGED', String(err));
      assert.match(
        err.message,
        /another failover \(failover-1-dead\) holds this shard here for \d+ ms more.*run it again/,
      );
      return true;
    });
    let done: Awaited<ReturnType<typeof force>> | undefined;
    await waitFor(
      'a forced failover to run once the claims ran out',
      async () => {
        done = await force().catch((err: unknown) => {
          if (err instanceof DistkvError && err.code === 'MAP_CHANGED') return undefined;
          throw err;
        });
        return done !== undefined;
      },
      30000,
    );
    const load = new Load(client, 'after', 2, 60, 1);
    await load.until(30);
    await load.stop();
    for (const [k, v] of load.acked) acked.set(k, v);
    await expectConverged(client, [A, C], done!.to, acked);
  });
});
