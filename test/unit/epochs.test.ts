/**
 * Epochs in replication (src/replication/epochs.ts, docs/wal-format.md "Epoch history"): the
 * leader's check of a pull's (epoch, seq), batches cut at epoch boundaries, a replica that refuses
 * a batch from a deposed leader's epoch, and the epochs its log frames carry.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DistkvError } from '../../src/errors.js';
import { checkPullEpoch, cutAtEpoch, type ShardEpochs } from '../../src/replication/epochs.js';
import { Follower } from '../../src/replication/follower.js';
import { LocalSource } from '../../src/replication/local-source.js';
import type { PullResult, ReplicationSource, SnapshotStream } from '../../src/replication/source.js';
import type { LsmStore } from '../../src/storage/lsm-store.js';
import type { StoreReplication } from '../../src/storage/store-replication.js';
import { encodeRecord, recordSize, TYPE_PUT } from '../../src/storage/wal-format.js';
import { logEpochs } from '../helpers/log-epochs.js';
import { openTestLsm } from '../helpers/lsm.js';
import { tempDir } from '../helpers/temp-dir.js';

/** records encodes puts k<seq> for seqs first..last in WAL framing. */
function records(first: number, last: number): Buffer {
  const parts: Buffer[] = [];
  for (let seq = first; seq <= last; seq++) {
    const key = Buffer.from(`k${seq}`);
    const b = Buffer.alloc(recordSize(key.length, 1));
    encodeRecord(b, 0, TYPE_PUT, seq, key, Buffer.from('v'));
    parts.push(b);
  }
  return Buffer.concat(parts);
}

/** Epoch 1 began at seq 11, epoch 2 at seq 21. */
const LEADER: ShardEpochs = {
  epoch: 2,
  history: [
    { epoch: 1, firstSeq: 11 },
    { epoch: 2, firstSeq: 21 },
  ],
};

describe('checkPullEpoch', () => {
  it("answers the fork when the replica's (epoch, seq) is off the leader's history", () => {
    assert.equal(checkPullEpoch(LEADER, 0, 10), undefined);
    assert.equal(checkPullEpoch(LEADER, 0, 12), 10);
    assert.equal(checkPullEpoch(LEADER, 1, 20), undefined);
    assert.equal(checkPullEpoch(LEADER, 1, 25), 20);
    assert.equal(checkPullEpoch(LEADER, 0, 25), 10);
    assert.equal(checkPullEpoch(LEADER, 2, 99), undefined);
  });

  it('refuses a replica that knows a newer epoch than the leader (STALE_LEADER)', () => {
    assert.throws(
      () => checkPullEpoch(LEADER, 3, 25),
      (e: unknown) => e instanceof DistkvError && e.code === 'STALE_LEADER',
    );
  });
});

describe('cutAtEpoch', () => {
  it("keeps only the first record's epoch in a batch", () => {
    const cut = cutAtEpoch(records(8, 15), 8, LEADER.history);
    assert.equal(cut.epoch, 0);
    assert.deepEqual(cut.records, records(8, 10));
    const whole = cutAtEpoch(records(11, 15), 11, LEADER.history);
    assert.equal(whole.epoch, 1);
    assert.equal(whole.records.length, records(11, 15).length);
  });
});

describe('LocalSource checks epochs like the HTTP leader', () => {
  it('answers DIVERGED with the fork, and cuts batches at the epoch boundary', async () => {
    const dir = tempDir(after);
    const leader = await openTestLsm(join(dir, 'leader'));
    try {
      for (let i = 1; i <= 25; i++) await leader.put(Buffer.from(`k${i}`), Buffer.from('v'));
      const src = new LocalSource(
        () => leader.replication,
        'test leader',
        () => LEADER,
      );
      // The fork comes with the leader's epoch: its leader never had the replica's records above 10.
      assert.deepEqual(await src.pull(15, 1 << 20, 0, { epoch: 0 }), { fork: 10, epoch: 2 });
      const before = await src.pull(8, 1 << 20, 0, { epoch: 0 });
      assert.ok(typeof before === 'object' && 'records' in before);
      assert.equal(before.recordsEpoch, 0);
      assert.equal(before.epoch, 2);
      assert.equal(before.records.length, records(9, 10).length, 'stops before epoch 1 starts');
      const next = await src.pull(10, 1 << 20, 0, { epoch: 0 });
      assert.ok(typeof next === 'object' && 'records' in next);
      assert.equal(next.recordsEpoch, 1);
      await assert.rejects(src.pull(25, 1 << 20, 0, { epoch: 3 }), { code: 'STALE_LEADER' });
    } finally {
      await leader.close();
    }
  });
});

/** StaticSource answers every pull with the records after `after` up to 5, in the epochs it is given. */
class StaticSource implements ReplicationSource {
  readonly describe = 'test leader';
  pulls = 0;
  private readonly epoch: number;
  private readonly recordsEpoch: number;

  constructor(epoch: number, recordsEpoch: number) {
    this.epoch = epoch;
    this.recordsEpoch = recordsEpoch;
  }

  async pull(after: number, _maxBytes: number, waitMs: number): Promise<PullResult> {
    this.pulls++;
    if (after >= 5) {
      await new Promise((resolve) => setTimeout(resolve, waitMs));
      return { records: Buffer.alloc(0), leaderSeq: 5, epoch: this.epoch, recordsEpoch: this.recordsEpoch };
    }
    return {
      records: records(after + 1, 5),
      leaderSeq: 5,
      epoch: this.epoch,
      recordsEpoch: this.recordsEpoch,
    };
  }

  snapshot(): Promise<SnapshotStream> {
    return Promise.reject(new Error('no snapshot in this test'));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** follow runs a follower of `source` on `replica` until `done` holds (bounded), then stops it. */
async function follow(
  source: ReplicationSource,
  replica: LsmStore,
  known: number,
  done: () => boolean,
): Promise<Follower> {
  const follower = new Follower({
    source,
    store: () => replica.replication,
    rebuild: () => Promise.reject(new Error('no rebuild in this test')),
    reopen: () => Promise.reject(new Error('no reopen in this test')),
    publish: () => undefined,
    epochs: () => ({ epoch: known, history: [{ epoch: known, firstSeq: 1 }] }),
    pullMaxBytes: 1 << 20,
    pullWaitMs: 10,
  });
  follower.start();
  const deadline = Date.now() + 10000;
  while (!done() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  await follower.stop();
  return follower;
}

describe('a replica and epochs', () => {
  it("refuses a batch from a leader whose epoch is older than the shard's", async () => {
    const dir = tempDir(after);
    const replica = await openTestLsm(join(dir, 'replica'));
    try {
      const stale = new StaticSource(1, 1);
      const f = await follow(stale, replica, 2, () => stale.pulls >= 2);
      assert.ok(stale.pulls >= 2);
      assert.equal(replica.lastSeq(), 0, 'no record of the deposed leader was applied');
      assert.ok(f.counters.staleBatches >= 1);
      assert.equal(f.current().state, 'stopped');
    } finally {
      await replica.close();
    }
  });

  it('logs the records it applies in the epoch they came with', async () => {
    const dir = tempDir(after);
    const storeDir = join(dir, 'replica');
    const replica = await openTestLsm(storeDir);
    try {
      await follow(new StaticSource(3, 3), replica, 3, () => replica.lastSeq() >= 5);
      assert.equal(replica.lastSeq(), 5);
    } finally {
      await replica.close();
    }
    const epochs = await logEpochs(join(storeDir, 'log'), storeDir);
    assert.deepEqual(
      [...epochs].filter(([seq]) => seq <= 5),
      [1, 2, 3, 4, 5].map((seq) => [seq, 3]),
    );
  });

  it('on DIVERGED saves the records above the fork, then resyncs from a snapshot', async () => {
    const dir = tempDir(after);
    let replica = await openTestLsm(join(dir, 'replica'));
    for (let i = 1; i <= 4; i++) await replica.put(Buffer.from(`old${i}`), Buffer.from('x'));
    let pulls = 0;
    const source: ReplicationSource = {
      describe: 'diverged leader',
      pull: async (_after, _maxBytes, waitMs) => {
        pulls++;
        if (pulls === 1) return { fork: 2, epoch: 1 };
        await new Promise((resolve) => setTimeout(resolve, waitMs));
        return { records: Buffer.alloc(0), leaderSeq: 3, epoch: 1, recordsEpoch: 1 };
      },
      snapshot: () => {
        async function* chunks(): AsyncIterable<{ key: Uint8Array; value: Uint8Array }[]> {
          await Promise.resolve();
          yield [{ key: Buffer.from('new'), value: Buffer.from('y') }];
        }
        return Promise.resolve({ seq: 3, chunks: chunks(), exactSeq: () => 3 });
      },
      close: () => Promise.resolve(),
    };
    const saved: { fork: number; epoch: number | undefined; lastSeq: number }[] = [];
    let n = 0;
    const fresh = async (): Promise<StoreReplication> => {
      await replica.close();
      replica = await openTestLsm(join(dir, `replica${++n}`));
      return replica.replication;
    };
    const follower = new Follower({
      source,
      store: () => replica.replication,
      rebuild: fresh,
      reopen: async () => {
        await replica.close();
        replica = await openTestLsm(join(dir, `replica${n}`));
        return replica.replication;
      },
      publish: () => undefined,
      epochs: () => ({ epoch: 1, history: [{ epoch: 1, firstSeq: 3 }] }),
      diverged: ({ fork, epoch }) => {
        saved.push({ fork, epoch, lastSeq: replica.lastSeq() });
      },
      pullMaxBytes: 1 << 20,
      pullWaitMs: 10,
    });
    try {
      follower.start();
      const deadline = Date.now() + 10000;
      while (pulls < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      await follower.stop();
      assert.deepEqual(
        saved,
        [{ fork: 2, epoch: 1, lastSeq: 4 }],
        'the records above the fork were handed over first, with the epoch the leader forked in',
      );
      assert.equal(follower.counters.resyncs, 1);
      assert.equal(replica.get(Buffer.from('new'))?.toString(), 'y');
      assert.equal(replica.get(Buffer.from('old4')), undefined);
    } finally {
      await replica.close();
    }
  });

  it("reads a reopened store's epoch back from its last record's frame", async () => {
    const dir = tempDir(after);
    const storeDir = join(dir, 'store');
    const first = await openTestLsm(storeDir);
    assert.equal(first.replication.epochRecovered, false, 'a new store has no record to read it from');
    first.replication.epoch = 3;
    await first.put(Buffer.from('a'), Buffer.from('1'));
    await first.put(Buffer.from('b'), Buffer.from('2'));
    await first.close();
    const reopened = await openTestLsm(storeDir);
    try {
      assert.equal(reopened.replication.epochRecovered, true);
      assert.equal(reopened.replication.epoch, 3);
    } finally {
      await reopened.close();
    }
  });

  it("refuses a batch that does not follow its log without relabelling the log's epoch", async () => {
    const dir = tempDir(after);
    const store = await openTestLsm(join(dir, 'store'));
    try {
      store.replication.epoch = 1;
      await store.put(Buffer.from('a'), Buffer.from('1'));
      // A write of its own still in flight when a new leader's batch for the same seq arrives.
      const inflight = store.put(Buffer.from('b'), Buffer.from('2'));
      await assert.rejects(store.replication.applyReplicated(records(2, 2), 5), { code: 'INTERNAL' });
      await inflight;
      assert.equal(store.replication.epoch, 1, 'the next pull names the epoch of the record the store holds');
    } finally {
      await store.close();
    }
  });
});
