/**
 * A replica's resync as its worker hosts it (src/replication/replication-host.ts), against a leader
 * over HTTP (test/helpers/fake-leader.ts), with the stores in one shared commit log as a worker
 * keeps them:
 *  - a replica that starts over a snapshot load that never finished (its marker says `loading`)
 *    serves none of that part and publishes no position over it, even while its leader is out of
 *    reach (the resync cannot begin): it answers UNAVAILABLE, as during any resync, and acks 0, so
 *    a failover that ranks replicas on their acks never picks it for the data it seems to hold;
 *  - a resync stopped in the middle of its load (a promotion's hold, a leader change) and started
 *    again completes: the half-loaded store is closed before the replica is rebuilt once more
 *    (left open, its id kept the commit log from opening the store again, and the replica
 *    answered UNAVAILABLE until the process restarted);
 *  - a snapshot stream that goes silent fails after an idle limit, so the resync is tried again
 *    (it waited forever, with the replica wiped and answering UNAVAILABLE).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SLOT_LAST_SEQ } from '../../src/replication/positions.js';
import { ResyncingStore } from '../../src/replication/resyncing-store.js';
import { FakeLeader } from '../helpers/fake-leader.js';
import { HostedReplica } from '../helpers/hosted-replica.js';
import { freePort } from '../helpers/ports.js';

const REPLICA = '127.0.0.1:7002';

describe('a replica resyncing on its worker', () => {
  it('serves nothing and acks 0 over an unfinished snapshot load while its leader is out of reach', async () => {
    const port = await freePort();
    const replica = await HostedReplica.open(`127.0.0.1:${port}`, {
      name: REPLICA,
      ownKeys: 20,
      marker: { loading: true },
    });
    let leader: FakeLeader | undefined;
    try {
      replica.host.start();
      await until(() => replica.state === 'disconnected', 'the replica did not find its leader down');
      // Its content is part of a snapshot (here: whatever its log held) under a seq that does not describe it.
      assert.throws(
        () => replica.hosted.store.get(Buffer.from('mine1')),
        /UNAVAILABLE|rebuilt/,
        'a replica over an unfinished snapshot load served a read from it',
      );
      assert.equal(
        replica.positions.get(0, SLOT_LAST_SEQ),
        0,
        'a replica over an unfinished snapshot load published a position a failover ranks it on',
      );
      assert.equal(await replica.host.holdFollowing(0, true, 60000), 0, 'a hold answered its old seq');
      await replica.host.holdFollowing(0, false, 60000);
      // The leader comes up: the resync runs and the replica holds exactly the leader's state.
      leader = await FakeLeader.start(30, port);
      const want = leader.entries();
      await until(() => replica.holds(want) && replica.state === 'streaming', 'the resync did not finish');
      assert.equal(replica.positions.get(0, SLOT_LAST_SEQ), 30);
    } finally {
      await replica.close();
      await leader?.close();
    }
  });

  it('completes a resync that was stopped in the middle of its load and started again', async () => {
    const leader = await FakeLeader.start(30);
    const replica = await HostedReplica.open(leader.address, { name: REPLICA, ownKeys: 5 });
    try {
      leader.stallAfter = 5;
      replica.host.start();
      // The pull answers 410: the replica is wiped, rebuilt, and its load waits for the rest of the stream.
      await until(() => replica.hosted.store instanceof ResyncingStore, 'the resync did not begin');
      await new Promise((r) => setTimeout(r, 200));
      // A promotion holds it: its follower stops, which cuts the snapshot stream.
      await replica.host.holdFollowing(0, true, 60000);
      leader.stallAfter = undefined;
      await replica.host.holdFollowing(0, false, 60000);
      const want = leader.entries();
      await until(
        () => replica.holds(want) && replica.state === 'streaming',
        () => `the resync did not finish: ${JSON.stringify(replica.host.statsOf(0))}`,
      );
    } finally {
      await replica.close();
      await leader.close();
    }
  });
});

describe('a replica held for a promotion while it knows it forked', () => {
  it('answers the fork as its position, not its last seq', async () => {
    const leader = await FakeLeader.start(30);
    const replica = await HostedReplica.open(leader.address, { name: REPLICA, ownKeys: 5 });
    try {
      // Its records above seq 2 are not the leader's, and the leader cannot serve a snapshot yet.
      leader.pullAnswer = {
        status: 409,
        headers: { 'content-type': 'application/json', 'x-distkv-fork-seq': '2' },
        body: JSON.stringify({ error: { code: 'DIVERGED', message: 'forked', fork: 2 } }),
      };
      leader.refuseSnapshots = true;
      replica.host.start();
      await until(() => leader.snapshots > 0, 'the replica did not try to resync');
      assert.equal(replica.positions.get(0, SLOT_LAST_SEQ), 2);
      // A campaign ranks it on what the hold answers: its seq 5 outranked replicas that hold
      // the leader's records 3..4.
      assert.equal(await replica.host.holdFollowing(0, true, 60000), 2);
      // A campaign renews the hold at every reconcile while the leader key is missing.
      assert.equal(
        await replica.host.holdFollowing(0, true, 60000),
        2,
        'a renewed hold answered its last seq',
      );
      // Released, it follows again, still acking no more than the fork.
      await replica.host.holdFollowing(0, false, 60000);
      const tries = leader.snapshots;
      await until(() => leader.snapshots > tries, 'the released replica did not try to resync');
      assert.equal(replica.positions.get(0, SLOT_LAST_SEQ), 2);
    } finally {
      await replica.close();
      await leader.close();
    }
  });
});

describe('a snapshot stream from a leader that goes silent', () => {
  it('fails after the idle limit instead of waiting forever', async () => {
    const leader = await FakeLeader.start(30);
    leader.stallAfter = 5;
    const source = leader.source(REPLICA, { bodyIdleMs: 300 });
    try {
      const started = Date.now();
      const consumed = (async () => {
        const s = await source.snapshot();
        for await (const chunk of s.chunks) assert.ok(chunk.length >= 0);
      })();
      const hung = new Promise<'hung'>((r) =>
        setTimeout(() => {
          r('hung');
        }, 5000).unref(),
      );
      const outcome = await Promise.race([
        consumed.then(
          () => 'ended',
          (e: unknown) => e,
        ),
        hung,
      ]);
      assert.ok(outcome instanceof Error, `the stalled snapshot ${String(outcome)}`);
      assert.ok(Date.now() - started < 4000);
    } finally {
      await source.close();
      await leader.close();
    }
  });
});

describe('a 409 DIVERGED pull answer', () => {
  it('gives its fork from the header, else from the body, and fails without one (never a NaN fork)', async () => {
    const leader = await FakeLeader.start(30);
    const source = leader.source(REPLICA);
    const diverged = (headers: Record<string, string>, fork?: number): void => {
      leader.pullAnswer = {
        status: 409,
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({
          error: { code: 'DIVERGED', message: 'forked', ...(fork === undefined ? {} : { fork }) },
        }),
      };
    };
    try {
      diverged({ 'x-distkv-fork-seq': '12' }, 12);
      assert.deepEqual(await source.pull(20, 1 << 20, 0, { epoch: 1 }), { fork: 12 });
      diverged({}, 7);
      assert.deepEqual(
        await source.pull(20, 1 << 20, 0, { epoch: 1 }),
        { fork: 7 },
        'the body names the fork',
      );
      // With no fork at all, the replica must not save "the records above NaN" (none) and wipe them.
      diverged({});
      await assert.rejects(source.pull(20, 1 << 20, 0, { epoch: 1 }), /without a fork seq/);
    } finally {
      await source.close();
      await leader.close();
    }
  });
});

/** until waits for `cond`, polling, for at most 20 s. */
async function until(cond: () => boolean, what: string | (() => string)): Promise<void> {
  const deadline = Date.now() + 20000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
