/**
 * KNOWN FAILING (review-32): (epoch, seq) must name one record (DESIGN.md §6: "(epoch, seq)
 * identifies history"). With `durability = "interval"` (or "none") a leader hands records to its
 * replicas once appended, before any fdatasync; a power cut then takes them from the leader, which
 * restarts in the same epoch and gives the same seqs to new writes. A replica that copied the lost
 * records pulls again with an ack and epoch the leader's history accepts, is served the leader's
 * records after that ack on top of its own different ones, and counts for `w=N` at that ack: it
 * serves the lost values, lacks the new ones, and never resyncs (nor would a promotion notice).
 * Expected: the pull is refused (a fork at the leader's recovered last seq, or REPLICA_AHEAD), so
 * the replica saves its records above it and resyncs. The fix needs the leader to mark a restart
 * that lost records in its history (src/storage and src/replication; see the review note).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { LocalSource } from '../../src/replication/local-source.js';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import type { LsmStore } from '../../src/storage/lsm-store.js';
import { openTestLsm } from '../helpers/lsm.js';
import { dump } from '../helpers/replica-pair.js';
import { tempDir } from '../helpers/temp-dir.js';

const b = (s: string): Buffer => Buffer.from(s);

describe('a replica of an interval-mode leader that lost its unsynced tail to a power cut', () => {
  // todo: fails today (see above); node:test reports it without failing the run. Drop `todo` with the fix.
  const todo = 'review-32: a restart that lost records is not marked in the leader history';
  it(
    'is not served the records after its ack on top of records the leader no longer has',
    { todo },
    async () => {
      const root = tempDir(after);
      let vfs = new FaultyVfs();
      const leaderDir = join(root, 'leader');
      // A sync interval far longer than the test: nothing the writes append is synced.
      const openLeader = (v: FaultyVfs): Promise<LsmStore> =>
        openTestLsm(leaderDir, { vfs: v, durability: 'interval', memtableBytes: 8 << 20 });
      let leader = await openLeader(vfs);
      const replica = await openTestLsm(join(root, 'replica'), { memtableBytes: 8 << 20 });
      try {
        for (let i = 1; i <= 3; i++) await leader.put(b(`old${i}`), b(`lost${i}`));
        const source = (l: LsmStore): LocalSource => new LocalSource(() => l.replication, 'leader');
        const first = await source(leader).pull(0, 1 << 20, 0, 0);
        assert.ok(typeof first === 'object' && 'records' in first);
        assert.equal(await replica.replication.applyReplicated(first.records, first.recordsEpoch), 3);

        // Power cut: the leader's appended, unsynced records are gone. It restarts in epoch 0 and
        // takes new writes, seqs 1..4 again.
        const rebooted = vfs.crash(false);
        await leader.close().catch(() => undefined);
        vfs = rebooted;
        leader = await openLeader(vfs);
        for (let i = 1; i <= 4; i++) await leader.put(b(`new${i}`), b(`kept${i}`));
        assert.equal(leader.lastSeq(), 4);

        // The replica pulls after its ack, 3, in epoch 0.
        const again = await source(leader).pull(replica.lastSeq(), 1 << 20, 0, replica.replication.epoch);
        if (typeof again === 'object' && 'records' in again && again.records.length > 0)
          await replica.replication.applyReplicated(again.records, again.recordsEpoch);
        assert.deepEqual(
          dump(replica),
          dump(leader),
          `the pull after seq 3 was answered ${JSON.stringify(typeof again === 'object' && 'records' in again ? 'with records' : again)}: the replica now holds another content at the leader's seq`,
        );
      } finally {
        await replica.close();
        await leader.close().catch(() => undefined);
      }
    },
  );
});
