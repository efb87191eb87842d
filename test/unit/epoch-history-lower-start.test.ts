/**
 * A later epoch can start below an earlier one (docs/failover.md): leader A wrote seqs 1..5 in
 * epoch 0; replica B held 1..5, replica C only 1..3. A fails; B is promoted (epoch 1 from seq 6)
 * and fails before writing; C, the most advanced member left, is promoted (epoch 2 from seq 4) and
 * writes its own 4 and 5. The history is [{1, 6}, {2, 4}]: epoch 1 has no record on it at all, and
 * C's seqs 4..5 are epoch 2's. A, coming back at (epoch 0, seq 5), holds A's 4..5, which C never
 * had: it diverged at 3. Before, every lookup stopped at the first later epoch (1, from 6): A was
 * not told it diverged (forkSeq 5, and a pull after 5 got C's records on top of A's: a replica
 * holding other values than its leader, counted for w=N), and C's 4..5 went out labelled epoch 0.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { checkPullEpoch, cutAtEpoch } from '../../src/replication/epochs.js';
import type { HostedStore } from '../../src/replication/replication-host.js';
import { type EpochStart, forkSeq, type LiveShard } from '../../src/routing/live-map.js';
import { epochOfSeq } from '../../src/routing/version.js';
import { openTestLsm } from '../helpers/lsm.js';
import { tempDir } from '../helpers/temp-dir.js';
import { inDir, testReplicationHost } from '../helpers/replication-host.js';

const HISTORY: EpochStart[] = [
  { epoch: 1, firstSeq: 6 },
  { epoch: 2, firstSeq: 4 },
];
const b = (s: string): Buffer => Buffer.from(s);

describe('an epoch history in which a later epoch starts below an earlier one', () => {
  it('gives each seq the epoch of the leader whose history it is on', () => {
    assert.equal(epochOfSeq(HISTORY, 3), 0);
    assert.equal(epochOfSeq(HISTORY, 4), 2);
    assert.equal(epochOfSeq(HISTORY, 5), 2);
    assert.equal(epochOfSeq(HISTORY, 7), 2);
  });

  it('forks a store of an older epoch at the lowest later start above which it holds records', () => {
    const shard = { history: HISTORY } as LiveShard;
    assert.equal(forkSeq(shard, 0), 3, 'A (last knew epoch 0) holds 4..5 that no later leader has');
    assert.equal(forkSeq(shard, 1), 3, 'B (led epoch 1) too');
    const leader = { epoch: 2, history: HISTORY };
    assert.equal(checkPullEpoch(leader, 0, 5), 3);
    assert.equal(checkPullEpoch(leader, 0, 3), undefined);
    assert.equal(checkPullEpoch(leader, 1, 6), 3);
    assert.equal(checkPullEpoch(leader, 2, 5), undefined);
  });

  it('answers a pull at the new leader with the fork, and labels its records with its epoch', async () => {
    const dir = join(tempDir(after), 'c');
    const store = await openTestLsm(dir);
    for (let i = 1; i <= 3; i++) await store.put(b(`a${i}`), b(`${i}`));
    const spec = inDir(dir, 'replica');
    const host = testReplicationHost(new Map<number, HostedStore>([[0, { spec, store }]]));
    host.start();
    await host.setRole(0, { ...spec, role: 'leader', epoch: 2, history: HISTORY });
    for (let i = 4; i <= 5; i++) await store.put(b(`c${i}`), b(`${i}`));
    try {
      const fromA = await host.pull(0, 5, 1 << 20, 0, '127.0.0.1:2', 0);
      assert.equal(fromA.fork, 3, "A's records 4..5 are not the leader's");
      const behind = await host.pull(0, 3, 1 << 20, 0, '127.0.0.1:2', 0);
      assert.equal(behind.recordsEpoch, 2, "C's own records 4..5 are of epoch 2");
      assert.equal(cutAtEpoch(behind.records, 4, HISTORY).epoch, 2);
    } finally {
      await host.stop();
      await store.close();
    }
  });
});
