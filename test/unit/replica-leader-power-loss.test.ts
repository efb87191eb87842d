/**
 * (epoch, seq) must name one record (DESIGN.md §6: "(epoch, seq) identifies history"). With
 * `durability = "interval"` (or "none") a leader serves records to its replicas once appended,
 * before any fdatasync; a power cut then takes them from the leader, which restarts in the same
 * epoch and gives the same seqs to new writes. Before, a replica that had copied the lost records
 * pulled again with an ack and epoch the leader's history accepted, was served the leader's records
 * after that ack on top of its own different ones, and counted for `w=N` there: it served the
 * lost values, lacked the new ones, and never resynced. Now a replica's first position above what
 * the leader held at its start is answered with a fork there (src/replication/leader-state.ts,
 * `restartFork`): the replica saves its records above it and resyncs. A replica rebuilt from a
 * snapshot the leader served since, or one that pulled from it since, is not refused.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { HostedStore, ReplicationHost } from '../../src/replication/replication-host.js';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import type { LsmStore } from '../../src/storage/lsm-store.js';
import { openTestLsm } from '../helpers/lsm.js';
import { inDir, testReplicationHost } from '../helpers/replication-host.js';
import { tempDir } from '../helpers/temp-dir.js';

const b = (s: string): Buffer => Buffer.from(s);
const REPLICA = '127.0.0.1:2';
const OTHER = '127.0.0.1:3';

/** leaderHost runs `store` as the leader of a worker's ReplicationHost (a process starting). */
function leaderHost(dir: string, store: LsmStore): ReplicationHost {
  const host = testReplicationHost(
    new Map<number, HostedStore>([[0, { spec: inDir(dir, 'leader'), store }]]),
  );
  host.start();
  return host;
}

/** LostTail is a replica that copied seqs 1..3 of an interval-mode leader, and that leader, restarted after a power cut took them. */
interface LostTail {
  leader: LsmStore;
  host: ReplicationHost;
  replica: LsmStore;
  close: () => Promise<void>;
}

/** lostTail sets up a LostTail: the restarted leader holds none of seqs 1..3, and takes new writes at seq 1 on. */
async function lostTail(): Promise<LostTail> {
  const root = tempDir(after);
  const vfs = new FaultyVfs();
  const leaderDir = join(root, 'leader');
  // A sync interval far longer than the test: nothing the writes append is synced.
  const openLeader = (v: FaultyVfs): Promise<LsmStore> =>
    openTestLsm(leaderDir, {
      vfs: v,
      durability: 'interval',
      fsyncIntervalMs: 3_600_000,
      memtableBytes: 8 << 20,
    });
  let leader = await openLeader(vfs);
  let host = leaderHost(leaderDir, leader);
  const replica = await openTestLsm(join(root, 'replica'), { memtableBytes: 8 << 20 });
  for (let i = 1; i <= 3; i++) await leader.put(b(`old${i}`), b(`lost${i}`));
  const first = await host.pull(0, 0, 1 << 20, 0, REPLICA, 0);
  assert.equal(await replica.replication.applyReplicated(first.records, first.recordsEpoch), 3);
  // Power cut: the leader's appended, unsynced records are gone. It restarts in epoch 0.
  const rebooted = vfs.crash(false);
  await host.stop();
  await leader.close().catch(() => undefined);
  leader = await openLeader(rebooted);
  host = leaderHost(leaderDir, leader);
  const t: LostTail = {
    leader,
    host,
    replica,
    close: async () => {
      await t.host.stop();
      await replica.close();
      await t.leader.close().catch(() => undefined);
    },
  };
  return t;
}

describe('a replica of an interval-mode leader that lost its unsynced tail to a power cut', () => {
  it('is told it diverged where the leader restarted, not served records on top of ones the leader lost', async () => {
    const { leader, host, replica, close } = await lostTail();
    try {
      // It takes new writes, seqs 1..4 again.
      for (let i = 1; i <= 4; i++) await leader.put(b(`new${i}`), b(`kept${i}`));
      assert.equal(leader.lastSeq(), 4);

      // The replica pulls after its ack, 3, in epoch 0: its records above 0 are not the leader's.
      const again = await host.pull(0, replica.lastSeq(), 1 << 20, 0, REPLICA, replica.replication.epoch);
      assert.equal(
        again.fork,
        0,
        `answered ${again.records.length} bytes of records on top of records the leader lost`,
      );
      assert.equal(again.records.length, 0);

      // A replica that pulled from this leader since its start is served as before.
      const other = await host.pull(0, 0, 1 << 20, 0, OTHER, 0);
      assert.equal(other.fork, undefined);
      assert.equal(other.records.length > 0, true);
      const followOn = await host.pull(0, 3, 1 << 20, 0, OTHER, 0);
      assert.equal(followOn.fork, undefined, 'a position this leader served is not refused');
      // So is one rebuilt from a snapshot this leader served.
      const snap = host.snapshotPage(0, null, { limit: 100, maxBytes: 1 << 20 }, null);
      assert.equal(snap.seq, 4);
      const fromSnapshot = await host.pull(0, 4, 1 << 20, 0, '127.0.0.1:4', 0);
      assert.equal(fromSnapshot.fork, undefined, 'a replica rebuilt from its snapshot is not refused');
    } finally {
      await close();
    }
  });

  it('is told it diverged, so it saves the records the leader lost, when it is ahead of the restarted leader', async () => {
    const { leader, host, replica, close } = await lostTail();
    try {
      // The three lost writes were acknowledged (w=1: the replica held each); one new write, seq 1.
      await leader.put(b('new1'), b('kept1'));
      assert.equal(leader.lastSeq(), 1);

      // The replica, at 3, is ahead of the leader. Answered REPLICA_AHEAD, it resynced and its
      // records 1..3 (the only copy of three acknowledged writes) went with its store, unsaved.
      const again = await host.pull(0, replica.lastSeq(), 1 << 20, 0, REPLICA, replica.replication.epoch);
      assert.equal(again.fork, 0, 'the replica must save its records above 0 before it resyncs');
      assert.equal(again.records.length, 0);
      // A replica the leader heard from since its start and is ahead still gets REPLICA_AHEAD.
      await host.pull(0, 0, 1 << 20, 0, OTHER, 0);
      await assert.rejects(host.pull(0, 3, 1 << 20, 0, OTHER, 0), /REPLICA_AHEAD|leader's last seq/);
    } finally {
      await close();
    }
  });
});
