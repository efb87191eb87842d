/**
 * A ring replica ahead of its leader's published last seq is not told it is ahead
 * (src/replication/ring-format.ts, "Publish order"; docs/correctness.md). A leader's batch enters
 * the ring from its log's listener (StoreLog.handOver), before the write resolves and the leader's
 * worker publishes its last seq in shared memory (SLOT_LAST_SEQ, which a RingSource reads as
 * `leaderSeq`): a replica fed by the ring is often a few records ahead of that published seq, and
 * when the ring has lapped it pulls from the leader's log. The leader checks that pull against its
 * store's last seq (pull-answer.ts), which its log moved before the listener ran: the replica is
 * never ahead of it, and gets records (or nothing new), not 409 REPLICA_AHEAD and a resync.
 *
 * Here the pieces of the worker path run on one thread: a real LSM leader whose log publishes into
 * a 4 KiB ring (most batches do not fit: laps all along), its LeaderState (restart check, retention
 * from the replica's shared ack), answerPull as the fallback, a published seq moved only some time
 * after each write resolved, and a real replica store under a Follower.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Durability } from '../../src/config/schema.js';
import { DistkvError } from '../../src/errors.js';
import { Follower } from '../../src/replication/follower.js';
import { LeaderState } from '../../src/replication/leader-state.js';
import { answerPull } from '../../src/replication/pull-answer.js';
import { ringBytesFor } from '../../src/replication/ring-format.js';
import { RingConsumer, RingProducer } from '../../src/replication/ring.js';
import { RingSource } from '../../src/replication/ring-source.js';
import type {
  PullOptions,
  PullResult,
  ReplicationSource,
  SnapshotStream,
} from '../../src/replication/source.js';
import type { LsmStore } from '../../src/storage/lsm-store.js';
import { dump } from '../helpers/replica-pair.js';
import { openTestLsm } from '../helpers/lsm.js';
import { tempDir } from '../helpers/temp-dir.js';

const REPLICA = 'ring-replica';

/** LeaderLog is the ring's fallback: the leader's `/_repl/pull` answer, as HttpSource reads it. */
class LeaderLog implements ReplicationSource {
  readonly describe = 'leader log';
  /** answers counts the pulls by outcome. */
  readonly answers = { records: 0, none: 0, ahead: 0, fork: 0, gone: 0 };
  private readonly leader: LsmStore;
  private readonly state: LeaderState;

  constructor(leader: LsmStore, state: LeaderState) {
    this.leader = leader;
    this.state = state;
  }

  async pull(
    after: number,
    maxBytes: number,
    waitMs: number,
    { epoch = 0 }: PullOptions = {},
  ): Promise<PullResult> {
    try {
      const a = await answerPull(
        {
          name: 'store 0',
          store: () => this.leader.replication,
          epochs: () => ({ epoch: 0, history: [] }),
          ack: (replica, seq) => {
            this.state.ack(replica, seq);
          },
          restartFork: (replica, seq) => this.state.restartFork(replica, seq),
        },
        { after, maxBytes, waitMs, replica: REPLICA, epoch },
      );
      if (a.fork !== undefined) {
        this.answers.fork++;
        return { fork: a.fork, epoch: a.epoch };
      }
      if (a.gone) {
        this.answers.gone++;
        return 'gone';
      }
      this.answers[a.records.length > 0 ? 'records' : 'none']++;
      return { records: a.records, leaderSeq: a.leaderSeq, epoch: a.epoch, recordsEpoch: a.recordsEpoch };
    } catch (err) {
      // HttpSource reads a 409 REPLICA_AHEAD as 'diverged'.
      if (!(err instanceof DistkvError) || err.code !== 'REPLICA_AHEAD') throw err;
      this.answers.ahead++;
      return 'diverged';
    }
  }

  snapshot(): Promise<SnapshotStream> {
    return Promise.reject(new Error('the replica asked for a snapshot: it resynced'));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

async function run(durability: Durability, publishLagMs: number): Promise<void> {
  const dir = tempDir(after);
  const leader = await openTestLsm(join(dir, 'leader'), { durability, ringBytes: 4096 });
  const replica = await openTestLsm(join(dir, 'replica'), { durability, ringBytes: 4096 });
  // A pending Atomics.waitAsync does not keep the event loop alive.
  const alive = setInterval(() => undefined, 1000);
  const sab = new SharedArrayBuffer(ringBytesFor(4096));
  const state = new LeaderState(() => leader.lastSeq());
  let sharedAck = 0;
  state.addAckSource(REPLICA, () => sharedAck);
  leader.replication.setRetention(() => state.retainFrom());
  const producer = new RingProducer(sab);
  leader.replication.onLog((records, first, last) => {
    producer.publish(records, first, last);
  });
  // The leader's published last seq: raised once a write resolved, and later still (a busy worker).
  let published = 0;
  const raise = (seq: number): void => {
    setTimeout(() => {
      published = Math.max(published, seq);
    }, publishLagMs);
  };
  let aheadOfPublished = 0;
  const log = new LeaderLog(leader, state);
  const source = new RingSource(new RingConsumer(sab), log, 'ring', () => published);
  const follower = new Follower({
    source,
    store: () => replica.replication,
    rebuild: () => Promise.reject(new Error('the replica resynced')),
    reopen: () => Promise.reject(new Error('the replica resynced')),
    publish: (p) => {
      sharedAck = p.ack;
      if (p.ack > published) aheadOfPublished++;
    },
    pullMaxBytes: 64 * 1024,
    pullWaitMs: 20,
  });
  follower.start();
  const write = (key: string, value: Buffer): Promise<void> =>
    leader.put(Buffer.from(key), value).then((r) => {
      raise(r.seq);
    });
  try {
    for (let round = 0; round < 12; round++) {
      // Bursts of batches of ten ~500-byte records (~5 KB each, written together: dropped by the
      // 4 KiB ring), then single small writes one after the other (each fits in the ring).
      for (let j = 0; j < 6; j++) {
        const value = Buffer.alloc(500, (round * 6 + j) % 251);
        const writes = Array.from({ length: 10 }, (_, i) => write(`k${i}`, value));
        if (j === 5) await Promise.all(writes);
        else void Promise.all(writes);
      }
      for (let j = 0; j < 6; j++) await write(`s${j}`, Buffer.alloc(20, round));
    }
    const deadline = Date.now() + 20000;
    while (replica.lastSeq() < leader.lastSeq() && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(log.answers.ahead, 0, `told it was ahead of its leader: ${JSON.stringify(log.answers)}`);
    assert.equal(follower.counters.resyncs, 0, `the replica resynced: ${JSON.stringify(log.answers)}`);
    assert.equal(log.answers.fork + log.answers.gone, 0, JSON.stringify(log.answers));
    assert.equal(replica.lastSeq(), leader.lastSeq());
    assert.deepEqual(dump(replica), dump(leader));
    assert.ok(producer.dropped > 0 && log.answers.records > 0, 'the ring lapped and the log served the gaps');
    assert.ok(source.counters.ringBatches > 0, 'and the ring the rest');
    assert.ok(aheadOfPublished > 0, 'the replica was ahead of the published seq at times');
  } finally {
    await follower.stop();
    clearInterval(alive);
    await replica.close();
    await leader.close();
  }
}

describe('a ring replica ahead of its leader published seq', () => {
  for (const durability of ['fsync', 'interval'] as const)
    it(`is served by its leader's log, never told it is ahead (durability ${durability})`, async () => {
      await run(durability, 15);
    });
});
