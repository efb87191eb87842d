/**
 * A replica follows as soon as its leader answers it, not a long poll later. Before, its first pull
 * on a shard without writes was a long poll (`pull_wait_ms`) that the leader held until it ended,
 * and the replica stayed `starting` (lag unknown) meanwhile: `distkv cluster` run right after a
 * start said it did not follow its leader for about a second (and for as long as `pull_wait_ms`).
 * Now a follower's pull waits 0 until a pull of its has been answered, since it started or since
 * its last failure, then long-polls; and while its leader has never answered it (its node still
 * starting) it retries every 200 ms, not up to every 5 s.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Follower, type FollowerPosition } from '../../src/replication/follower.js';
import type { PullResult, ReplicationSource, SnapshotStream } from '../../src/replication/source.js';
import type { LsmStore } from '../../src/storage/lsm-store.js';
import { openTestLsm } from '../helpers/lsm.js';
import { tempDir } from '../helpers/temp-dir.js';

const PULL_WAIT_MS = 5000;

/** IdleLeader answers pulls as a leader of a shard without writes: a long poll waits out its wait. */
class IdleLeader implements ReplicationSource {
  readonly describe = 'idle leader';
  /** waits holds each pull's wait, in order. */
  readonly waits: number[] = [];
  /** at holds when each pull was asked (ms). */
  readonly at: number[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly ends = new Set<() => void>();
  /** fails says whether pull number `n` (from 1) fails, as an unreachable leader's. */
  private readonly fails: (n: number) => boolean;

  constructor(fails: (n: number) => boolean = () => false) {
    this.fails = fails;
  }

  async pull(_after: number, _maxBytes: number, waitMs: number): Promise<PullResult> {
    this.waits.push(waitMs);
    this.at.push(Date.now());
    if (this.fails(this.waits.length)) throw new Error('connect ECONNREFUSED');
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, waitMs);
      this.timers.add(t);
      this.ends.add(resolve);
    });
    return { records: Buffer.alloc(0), leaderSeq: 0, epoch: 0 };
  }

  snapshot(): Promise<SnapshotStream> {
    return Promise.reject(new Error('no snapshot here'));
  }

  close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    for (const end of this.ends) end();
    return Promise.resolve();
  }
}

/** emptyReplica opens an empty replica store. */
function emptyReplica(): Promise<LsmStore> {
  return openTestLsm(join(tempDir(after), 'replica'), { memtableBytes: 1 << 20 });
}

/** followerOf makes a follower of `replica` from `source` that records what it publishes. */
function followerOf(replica: LsmStore, source: IdleLeader, published: FollowerPosition[]): Follower {
  return new Follower({
    source,
    store: () => replica.replication,
    rebuild: () => Promise.reject(new Error('not reached')),
    reopen: () => Promise.reject(new Error('not reached')),
    publish: (p) => published.push(p),
    pullMaxBytes: 1 << 20,
    pullWaitMs: PULL_WAIT_MS,
  });
}

/** until polls `f` every 5 ms for up to `ms`. */
async function until(what: string, ms: number, f: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!f()) {
    assert.ok(Date.now() < deadline, `${what}: not within ${String(ms)} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("a follower's first pull", () => {
  it('streams with its leader contact within a moment of its start on a shard without writes', async () => {
    const replica = await emptyReplica();
    const source = new IdleLeader();
    const published: FollowerPosition[] = [];
    const f = followerOf(replica, source, published);
    const started = Date.now();
    f.start();
    try {
      await until('streaming', 1000, () => published.some((p) => p.state === 'streaming'));
      const first = published.find((p) => p.state === 'streaming')!;
      assert.ok(first.contactAt >= started, JSON.stringify(first));
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(source.waits, [0, PULL_WAIT_MS], 'one pull without a wait, then long polls');
    } finally {
      await f.stop();
      await replica.close();
    }
  });

  it('asks without a wait again after a failed pull, then long-polls', async () => {
    const replica = await emptyReplica();
    const source = new IdleLeader((n) => n === 1 || n === 3);
    const published: FollowerPosition[] = [];
    const f = followerOf(replica, source, published);
    f.start();
    try {
      await until('four pulls', 3000, () => source.waits.length >= 4);
      await new Promise((r) => setTimeout(r, 300));
      // 1 fails, 2 answered at once, 3 (a long poll) fails, 4 answered at once, 5 long-polls.
      assert.deepEqual(source.waits, [0, 0, PULL_WAIT_MS, 0, PULL_WAIT_MS]);
      assert.equal(published.at(-1)?.state, 'streaming');
    } finally {
      await f.stop();
      await replica.close();
    }
  });

  it('retries every 200 ms while its leader has never answered it', async () => {
    const replica = await emptyReplica();
    const source = new IdleLeader(() => true);
    const f = followerOf(replica, source, []);
    f.start();
    try {
      // Backoff 50, 100, 200, 200, 200 ms... (it doubled to 400, 800, 1600 ms, up to 5 s).
      await until('seven pulls', 6000, () => source.waits.length >= 7);
      const gaps = source.at.slice(1).map((t, i) => t - source.at[i]!);
      assert.ok(
        gaps.slice(3).every((g) => g < 600),
        `waited ${gaps.join(', ')} ms between pulls`,
      );
    } finally {
      await f.stop();
      await replica.close();
    }
  });
});
