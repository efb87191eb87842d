/**
 * A ring replica that fell behind a ring smaller than a batch (every batch dropped) catches up from
 * its leader's log without a resync: the leader keeps the log its replica's ack still needs
 * (LeaderState.retainFrom over the replica's shared ack, as a leader's worker does), past its
 * in-memory tail (as long as the ring) and past its flushes.
 *
 * Why test/unit/replica-whole-batches.test.ts "a ring smaller than a batch" once resynced under CI
 * load: its pair's leader kept no log for its replica, so once the leader flushed, a replica a few
 * batches behind its 4 KiB tail was answered 'gone' (a replica pulling 10 ms late did so in every
 * run). The pair now keeps it, as a worker's leader does (`retainLog`).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { dump, ReplicaPair } from '../helpers/replica-pair.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('a ring replica behind a lapped 4 KiB ring', () => {
  it('catches up from its leader log after the leader flushed, without a resync', async () => {
    const pair = await ReplicaPair.open(tempDir(after), {
      ringBytes: 4096,
      pullMaxBytes: 256,
      pullWaitMs: 20,
      retainLog: true,
    });
    try {
      await pair.leader.put(Buffer.from('first'), Buffer.from('1'));
      await pair.caughtUp();
      await pair.pause();
      // ~300 KB of batches of ten 500-byte values: the 64 KiB memtable flushes several times.
      for (let j = 1; j <= 60; j++) {
        const value = Buffer.from(`${j}`.padEnd(500));
        await Promise.all(Array.from({ length: 10 }, (_, i) => pair.leader.put(Buffer.from(`k${i}`), value)));
      }
      await pair.leader.idle();
      const behind = pair.replica.lastSeq();
      assert.notEqual(
        pair.leader.replication.readLog(behind, 256),
        'gone',
        'the leader kept the log its replica needs',
      );
      pair.resume();
      await pair.caughtUp();
      assert.equal(pair.resyncs(), 0, 'the replica resynced');
      assert.deepEqual(dump(pair.replica), dump(pair.leader));
    } finally {
      await pair.close();
    }
  });
});
