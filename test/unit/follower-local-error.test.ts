/**
 * A follower stopped by its own disk publishes the failure's code with its position
 * (FollowerPosition.localError → SLOT_LOCAL_ERROR, src/replication/lag.ts: `/cluster` shows it
 * `disk-failed`), and forgets it once a pull is applied again, not when a later pull fails for
 * another reason (its leader went away: the disk is no less full). A failure that is not its
 * disk's (its leader refused, went away) publishes none: that replica is `disconnected`.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DistkvError } from '../../src/errors.js';
import { Follower, type FollowerPosition } from '../../src/replication/follower.js';
import type { PullResult, ReplicationSource, SnapshotStream } from '../../src/replication/source.js';
import type { StoreReplication } from '../../src/storage/store-replication.js';
import { encodeRecord, recordSize, TYPE_PUT } from '../../src/storage/wal-format.js';
import { openTestLsm } from '../helpers/lsm.js';
import { tempDir } from '../helpers/temp-dir.js';

/** LEADER_SEQ is the leader's last seq: puts k1..k3. */
const LEADER_SEQ = 3;

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

/** Leader answers every pull with what follows `after`, or refuses it with `refusal` while set. */
class Leader implements ReplicationSource {
  readonly describe = 'test leader';
  refusal: DistkvError | undefined;

  async pull(after: number, _maxBytes: number, waitMs: number): Promise<PullResult> {
    if (this.refusal !== undefined) throw this.refusal;
    if (after >= LEADER_SEQ) await new Promise((r) => setTimeout(r, waitMs));
    const recs = after >= LEADER_SEQ ? Buffer.alloc(0) : records(after + 1, LEADER_SEQ);
    return { records: recs, leaderSeq: LEADER_SEQ, epoch: 0, recordsEpoch: 0 };
  }

  snapshot(): Promise<SnapshotStream> {
    return Promise.reject(new Error('no snapshot in this test'));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** until waits (bounded) for `done`. */
async function until(what: string, done: () => boolean): Promise<void> {
  const deadline = Date.now() + 10000;
  while (!done()) {
    assert.ok(Date.now() < deadline, `not within 10 s: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** FullDisk is a follower of `leader` whose store's disk is full while `full` is set. */
interface FullDisk {
  follower: Follower;
  seen: FollowerPosition[];
  setFull(full: boolean): void;
  close(): Promise<void>;
}

/** fullDiskFollower opens a replica in `dir` whose applies fail with ENOSPC while its disk is full (at first). */
async function fullDiskFollower(dir: string, leader: Leader): Promise<FullDisk> {
  const replica = await openTestLsm(dir);
  const real = replica.replication;
  let full = true;
  // Its disk is full: applying fails with ENOSPC before anything is logged.
  const store: StoreReplication = Object.assign(Object.create(real) as StoreReplication, {
    applyReplicated: (...args: Parameters<StoreReplication['applyReplicated']>) => {
      if (full)
        return Promise.reject(
          Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }),
        );
      return real.applyReplicated(...args);
    },
  });
  const seen: FollowerPosition[] = [];
  const follower = new Follower({
    source: leader,
    store: () => store,
    rebuild: () => Promise.reject(new Error('no rebuild in this test')),
    reopen: () => Promise.reject(new Error('no reopen in this test')),
    publish: (p) => seen.push(p),
    pullMaxBytes: 1 << 20,
    pullWaitMs: 10,
    dir,
  });
  return {
    follower,
    seen,
    setFull: (f) => {
      full = f;
    },
    close: async () => {
      await follower.stop();
      await replica.close();
    },
  };
}

describe('a follower whose own disk fails', () => {
  const dir = tempDir(after);

  it('publishes the code with its position, and none once a pull is applied again', async () => {
    const r = await fullDiskFollower(join(dir, 'full'), new Leader());
    try {
      r.follower.start();
      await until('a failure published', () => r.seen.some((p) => p.state === 'disconnected'));
      const failed = r.seen.find((p) => p.state === 'disconnected');
      assert.equal(failed?.localError, 'DISK_FULL');
      r.setFull(false);
      await until('the records applied', () => r.seen.at(-1)?.ack === LEADER_SEQ);
      assert.equal(r.seen.at(-1)?.state, 'streaming');
      assert.equal(r.seen.at(-1)?.localError, undefined);
    } finally {
      await r.close();
    }
  });

  it('keeps the code while its leader then goes away, until a pull is applied again', async () => {
    const leader = new Leader();
    const r = await fullDiskFollower(join(dir, 'full-then-gone'), leader);
    try {
      r.follower.start();
      await until('the disk failure published', () => r.seen.some((p) => p.localError === 'DISK_FULL'));
      // Its leader dies: the pulls fail before anything reaches its (still full) disk. It was
      // published without the code, and /cluster said `disconnected`, no longer `disk-failed`.
      leader.refusal = new DistkvError('SHARD_UNREACHABLE', 'connect ECONNREFUSED');
      const mark = r.seen.length;
      await until('two failed pulls published', () => r.seen.length >= mark + 2);
      for (const p of r.seen.slice(mark))
        assert.equal(p.localError, 'DISK_FULL', `${p.state} without its disk's code`);
      r.setFull(false);
      leader.refusal = undefined;
      await until('the records applied', () => r.seen.at(-1)?.ack === LEADER_SEQ);
      assert.equal(r.seen.at(-1)?.localError, undefined);
    } finally {
      await r.close();
    }
  });

  it('publishes no local error for a leader that refuses its pulls', async () => {
    const replica = await openTestLsm(join(dir, 'refused'));
    const leader = new Leader();
    leader.refusal = new DistkvError('UNAVAILABLE', 'the store is not open');
    const seen: FollowerPosition[] = [];
    const follower = new Follower({
      source: leader,
      store: () => replica.replication,
      rebuild: () => Promise.reject(new Error('no rebuild in this test')),
      reopen: () => Promise.reject(new Error('no reopen in this test')),
      publish: (p) => seen.push(p),
      pullMaxBytes: 1 << 20,
      pullWaitMs: 10,
      dir: join(dir, 'refused'),
    });
    try {
      follower.start();
      await until('a failure published', () => seen.some((p) => p.state === 'disconnected'));
      assert.equal(seen.find((p) => p.state === 'disconnected')?.localError, undefined);
    } finally {
      await follower.stop();
      await replica.close();
    }
  });
});
