/**
 * A replica that learns its records above a fork are not its leader's (409 DIVERGED, a map's fork)
 * or that it is ahead of its leader (REPLICA_AHEAD) must not publish its last seq as its ack while
 * it resyncs: a leader on its worker counts that ack for `w=N` (LeaderState.ack, directly, or from
 * the shared positions for a ring replica), and its seq ranks it for a promotion. Before, the
 * follower published the store's last seq when the resync began and after every failed attempt
 * (a leader that does not serve its snapshot yet): a `w=1` write at a seq the replica holds from
 * another history was answered as replicated.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Follower, type FollowerPosition } from '../../src/replication/follower.js';
import { LeaderState } from '../../src/replication/leader-state.js';
import { ScriptedSource } from '../helpers/scripted-source.js';
import type { LsmStore } from '../../src/storage/lsm-store.js';
import { openTestLsm } from '../helpers/lsm.js';
import { tempDir } from '../helpers/temp-dir.js';

/** replicaAt opens a replica store holding seqs 1..`seqs` (its own history). */
async function replicaAt(seqs: number): Promise<LsmStore> {
  const store = await openTestLsm(join(tempDir(after), 'replica'), { memtableBytes: 8 << 20 });
  for (let i = 1; i <= seqs; i++) await store.put(Buffer.from(`other${i}`), Buffer.from(`x${i}`));
  return store;
}

/** follow runs a Follower of `replica` from `source` until it asked for a snapshot twice; returns what it published. */
async function follow(
  replica: LsmStore,
  source: ScriptedSource,
  publish: (p: FollowerPosition) => void,
  o: { heldThrough?: number; resyncFirst?: boolean } = {},
): Promise<void> {
  const f = new Follower({
    source,
    store: () => replica.replication,
    rebuild: () => Promise.reject(new Error('not reached: no snapshot')),
    reopen: () => Promise.reject(new Error('not reached: no snapshot')),
    publish,
    pullMaxBytes: 1 << 20,
    pullWaitMs: 50,
    ...o,
  });
  f.start();
  const deadline = Date.now() + 10000;
  while (source.snapshots < 2) {
    assert.ok(Date.now() < deadline, 'the follower did not try to resync');
    await new Promise((r) => setTimeout(r, 10));
  }
  await f.stop();
}

describe('a replica resyncing off its leader history', () => {
  for (const [what, answer, bound] of [
    ['told its records above seq 2 forked (409 DIVERGED)', { fork: 2 }, 2],
    ['told it is ahead of its leader (409 REPLICA_AHEAD)', 'diverged', 0],
  ] as const) {
    it(`acks no seq above what it shares with its leader when ${what}`, async () => {
      const replica = await replicaAt(5);
      // The leader on its worker wrote seqs 1..6 in its own history; a w=1 write of seq 4 waits.
      const leader = new LeaderState(() => 6);
      const acked = leader.waitForAcks(4, 1, 1500);
      const published: number[] = [];
      try {
        await follow(replica, new ScriptedSource(answer, 'forking leader'), (p) => {
          published.push(p.ack);
          leader.ack('replica', p.ack);
        });
        assert.ok(
          published.every((a) => a <= bound),
          `published acks ${published.join(',')} above ${bound}`,
        );
        assert.equal(await acked, 0, 'a w=1 write was counted as held by a replica of another history');
      } finally {
        await replica.close();
      }
    });
  }

  it('acks no seq above the fork a map gave it before its first resync', async () => {
    const replica = await replicaAt(5);
    const published: number[] = [];
    try {
      await follow(replica, new ScriptedSource('gone', 'forking leader'), (p) => published.push(p.ack), {
        heldThrough: 3,
        resyncFirst: true,
      });
      assert.ok(
        published.every((a) => a <= 3),
        `published acks ${published.join(',')} above the fork`,
      );
    } finally {
      await replica.close();
    }
  });

  it('still acks its last seq when its leader only no longer retains what follows it (410)', async () => {
    const replica = await replicaAt(5);
    const published: number[] = [];
    try {
      await follow(replica, new ScriptedSource('gone', 'forking leader'), (p) => published.push(p.ack));
      assert.equal(Math.max(...published), 5, 'the records it holds are its leader’s');
    } finally {
      await replica.close();
    }
  });
});
