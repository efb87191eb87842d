/**
 * A replica rebuilt from its leader's snapshot at seq S holds no record at S: the epoch its next
 * pull names for S must be the leader's, sent with the snapshot (X-Distkv-Epoch over HTTP, the
 * leader's history on the same worker), not the one the replica's own map gives S. After a
 * re-election the replica's map may lag its leader's: it named the older epoch, was told it forked
 * below S, and saving its records above the fork failed (they came from the snapshot, not its log,
 * so saving them from the log threw CORRUPTION): the follower retried that forever and never streamed.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { HostedStore } from '../../src/replication/replication-host.js';
import type { LsmStore } from '../../src/storage/lsm-store.js';
import type { StoreSpec } from '../../src/worker/messages.js';
import { openTestLsm } from '../helpers/lsm.js';
import { FakeLeader } from '../helpers/fake-leader.js';
import { dump } from '../helpers/replica-pair.js';
import { inDir, localReplicaSpec, testReplicationHost } from '../helpers/replication-host.js';
import { tempDir } from '../helpers/temp-dir.js';

const b = (s: string): Buffer => Buffer.from(s);
const REPLICA = '127.0.0.1:2';
/** The leader was re-elected in epoch 2 from seq 4 on; the replica's map has only epoch 1. */
const LEADER_HISTORY = [
  { epoch: 1, firstSeq: 1 },
  { epoch: 2, firstSeq: 4 },
];
const LAGGING_HISTORY = [{ epoch: 1, firstSeq: 1 }];

/** until polls `ok` every 20 ms for at most 15 s. */
async function until(ok: () => boolean, what: () => string): Promise<void> {
  const deadline = Date.now() + 15000;
  while (!ok()) {
    assert.ok(Date.now() < deadline, what());
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * aheadReplica opens a leader (store 0, epoch 2, 6 writes) and a same-worker replica (store 1) whose
 * map lags by an epoch, ahead of its leader with another history: it resyncs from the leader's
 * snapshot (S = 6).
 */
async function aheadReplica(): Promise<{ leader: LsmStore; hosted: Map<number, HostedStore> }> {
  const root = tempDir(after);
  const leaderSpec: StoreSpec = {
    ...inDir(join(root, 'leader'), 'leader'),
    epoch: 2,
    history: LEADER_HISTORY,
  };
  const local = localReplicaSpec(join(root, 'replica'), 1, REPLICA, 0);
  const replicaSpec: StoreSpec = { ...local, epoch: 1, history: LAGGING_HISTORY };
  const leader = await openTestLsm(leaderSpec.dir);
  const replica = await openTestLsm(replicaSpec.dir);
  for (let i = 1; i <= 6; i++) await leader.put(b(`k${i}`), b(`v${i}`));
  for (let i = 1; i <= 8; i++) await replica.put(b(`x${i}`), b(`y${i}`));
  const hosted = new Map<number, HostedStore>([
    [0, { spec: leaderSpec, store: leader }],
    [1, { spec: replicaSpec, store: replica }],
  ]);
  return { leader, hosted };
}

describe('a replica rebuilt from a snapshot while its map lags its leader by an epoch', () => {
  it('takes the epoch of the snapshot seq from its leader on the same worker and streams, no fork', async () => {
    const { leader, hosted } = await aheadReplica();
    const host = testReplicationHost(hosted, (spec) => openTestLsm(spec.dir));
    host.start();
    try {
      const want = JSON.stringify(dump(leader));
      await until(
        () => {
          const stats = host.statsOf(1);
          return stats.replicaState === 'streaming' && JSON.stringify(dump(hosted.get(1)!.store)) === want;
        },
        () => `the replica never streamed after its resync: ${JSON.stringify(host.statsOf(1))}`,
      );
      // More writes of epoch 2 reach it: it is on the leader's history.
      for (let i = 7; i <= 9; i++) await leader.put(b(`k${i}`), b(`v${i}`));
      await until(
        () => hosted.get(1)!.store.lastSeq() === 9,
        () => `the replica did not follow on: ${JSON.stringify(host.statsOf(1))}`,
      );
      const stats = host.statsOf(1) as { resyncs?: number; errors?: number };
      assert.equal(stats.resyncs, 1, `the replica resynced more than once: ${JSON.stringify(stats)}`);
    } finally {
      await host.stop();
      await hosted.get(1)!.store.close();
      await leader.close();
    }
  });
});

describe('a replica restarted after its resync, before it logged a record', () => {
  it('takes the epoch of the snapshot seq from its resync marker, not its lagging map, and streams', async () => {
    const { leader, hosted } = await aheadReplica();
    const replicaDir = hosted.get(1)!.spec.dir;
    const want = JSON.stringify(dump(leader));
    const streamed = (host: ReturnType<typeof testReplicationHost>): Promise<void> =>
      until(
        () =>
          host.statsOf(1).replicaState === 'streaming' && JSON.stringify(dump(hosted.get(1)!.store)) === want,
        () => `the replica never streamed: ${JSON.stringify(host.statsOf(1))}`,
      );
    // First run: the replica resyncs from the snapshot at 6 and logs nothing after it.
    const first = testReplicationHost(hosted, (spec) => openTestLsm(spec.dir));
    first.start();
    try {
      await streamed(first);
      assert.equal((first.statsOf(1) as { resyncs?: number }).resyncs, 1);
    } finally {
      await first.stop();
    }
    await hosted.get(1)!.store.close();
    // Second run: the same lagging map; the reopened store has no record at 6 to read its epoch from.
    hosted.get(1)!.store = await openTestLsm(replicaDir);
    assert.equal(hosted.get(1)!.store.lastSeq(), 6);
    const second = testReplicationHost(hosted, (spec) => openTestLsm(spec.dir));
    second.start();
    try {
      await streamed(second);
      await leader.put(b('k7'), b('v7'));
      await until(
        () => hosted.get(1)!.store.lastSeq() === 7,
        () => `the replica did not follow on: ${JSON.stringify(second.statsOf(1))}`,
      );
      const stats = second.statsOf(1) as { resyncs?: number };
      assert.equal(stats.resyncs, 0, `the restarted replica resynced: ${JSON.stringify(stats)}`);
    } finally {
      await second.stop();
      await hosted.get(1)!.store.close();
      await leader.close();
    }
  });
});

describe('a snapshot over HTTP', () => {
  it('gives the epoch of its seq from X-Distkv-Epoch, and none when the header is missing or not an epoch', async () => {
    const leader = await FakeLeader.start(3);
    const source = leader.source(REPLICA);
    const epochOf = async (): Promise<number | undefined> => {
      const s = await source.snapshot();
      for await (const chunk of s.chunks) assert.ok(chunk.length > 0);
      return s.epoch;
    };
    try {
      leader.snapshotEpoch = '2';
      assert.equal(await epochOf(), 2);
      leader.snapshotEpoch = undefined;
      assert.equal(await epochOf(), undefined, 'an older leader sends no epoch: the replica keeps its own');
      leader.snapshotEpoch = 'x';
      assert.equal(await epochOf(), undefined);
    } finally {
      await source.close();
      await leader.close();
    }
  });
});
