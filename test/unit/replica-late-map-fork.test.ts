/**
 * A replica learns of a fork twice: from its pull (409 DIVERGED, or DIVERGED from the leader on its
 * worker) and from the new live map (ReplicationHost.setRole with the map's fork). Which comes
 * first is a race: the map reaches the node through a peer check of `/cluster`, whenever that
 * runs. When the pull came first, the replica saved its lost records, resynced and followed the
 * new leader; the map's fork, arriving after that, found it above the fork point (now with the
 * new leader's records) and saved those as diverged too, then rebuilt it once more
 * (test/e2e/restart-epoch.test.ts counted 12 records, 5 lost plus the leader's 7, on a loaded
 * machine). A replica whose last record is of the forking epoch, where the new map's line has it,
 * already follows that epoch's leader: the map's fork leaves it as it is.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { followsFork } from '../../src/replication/epochs.js';
import type { StoreSpec } from '../../src/worker/messages.js';
import { capturedLog, FORK_HISTORY, forkOnOneWorker } from '../helpers/fork-fixture.js';
import { dump } from '../helpers/replica-pair.js';
import { tempDir } from '../helpers/temp-dir.js';

const REPLICA = '127.0.0.1:2';

/** divergedFiles lists the divergence files of the store `replica` in `root`. */
function divergedFiles(root: string): string[] {
  return readdirSync(root)
    .filter((n) => n.startsWith('replica.diverged-'))
    .sort();
}

describe('a replica that resynced after its pull was told it forked, then gets the new map', () => {
  it('saves the lost records once, never the new leader records it follows, and does not resync again', async () => {
    const root = tempDir(after);
    const { log } = capturedLog();
    // Its first pull is answered DIVERGED at 3: it saves seqs 4..6 and resyncs (fork-fixture.ts).
    const pair = await forkOnOneWorker(root, REPLICA, log);
    try {
      await pair.resynced();
      assert.deepEqual(divergedFiles(root), ['replica.diverged-2-4-6.log']);
      const replica = pair.hosted.get(1)!;
      assert.equal(replica.store.lastSeq(), 5, 'the replica holds the leader records of epoch 2');
      // The map of epoch 2 arrives now: its fork is at 3 for a store that last knew epoch 1.
      const spec: StoreSpec = { ...replica.spec, epoch: 2, history: FORK_HISTORY };
      await pair.host.setRole(1, spec, { epoch: 2, seq: 3 });
      assert.deepEqual(divergedFiles(root), ['replica.diverged-2-4-6.log'], 'the leader records were saved');
      assert.equal(pair.host.statsOf(1).divergedRecords, 3);
      await pair.leader.put(Buffer.from('k6'), Buffer.from('new6'));
      await pair.resynced();
      // The role change started a new follower: its count is of its own resyncs.
      assert.equal(pair.host.statsOf(1).resyncs, 0, 'the replica was rebuilt again');
      assert.equal(dump(replica.store).length, 6);
    } finally {
      await pair.close();
    }
  });
});

describe('followsFork', () => {
  const RESTART = { epoch: 64, firstSeq: 6, restart: true as const };

  it('says a store follows the forking epoch when its last record is of it, where the line has it', () => {
    assert.equal(followsFork({ epoch: 64, history: [RESTART] }, 64, 64, 12), true);
    assert.equal(followsFork({ epoch: 2, history: FORK_HISTORY }, 2, 2, 5), true);
  });

  it('says it does not when its last record above the fork is of an older epoch', () => {
    assert.equal(followsFork({ epoch: 64, history: [RESTART] }, 64, 0, 10), false);
    assert.equal(followsFork({ epoch: 2, history: FORK_HISTORY }, 2, 1, 5), false);
  });

  it('says it does not when its epoch, numbered above the forking one, is not on the new line', () => {
    // A restart epoch 66 a leader change in epoch 65 beat (map-merge.ts): 66 > 65, yet lost.
    const change = [{ epoch: 65, firstSeq: 21 }];
    assert.equal(followsFork({ epoch: 65, history: change }, 65, 66, 21), false);
  });
});
