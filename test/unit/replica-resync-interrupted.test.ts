/**
 * A replica stopped in the middle of loading a leader snapshot (kill -9, power loss, a resync
 * that never finished) holds part of a snapshot under a seq that does not describe it
 * (src/replication/follower.ts, the resync marker). Started again, it must resync before it
 * publishes any position as following: extending that part with the log from its seq would
 * publish acks whose content is not the leader's at that seq. The same holds for a replica stopped
 * after the resync wiped it and before the load began: in a shared commit log it would open as the
 * records the log still held of it, under its old seq.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Follower, type FollowerOptions } from '../../src/replication/follower.js';
import { LocalSource } from '../../src/replication/local-source.js';
import type {
  PullOptions,
  PullResult,
  ReplicationSource,
  SnapshotStream,
} from '../../src/replication/source.js';
import type { LsmStore } from '../../src/storage/lsm-store.js';
import { openTestLsm, wipeStoreDir } from '../helpers/lsm.js';
import { dump } from '../helpers/replica-pair.js';
import { tempDir } from '../helpers/temp-dir.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** keysOf counts a store's live keys; 0 while it is closed (a resync swaps it). */
function keysOf(store: LsmStore): number {
  try {
    return dump(store).length;
  } catch {
    return 0;
  }
}

/** reopened closes `store` and opens its directory again, wiped first when `wipe` (a resync's rebuild: all but the resync marker). */
async function reopened(store: LsmStore, dir: string, wipe: boolean): Promise<LsmStore> {
  await store.close();
  if (wipe) wipeStoreDir(dir, undefined, true);
  return openTestLsm(dir, { memtableBytes: 8 << 20 });
}

/** StallingSource is a LocalSource whose snapshots yield `keys` entries, then wait until closed, then fail. */
class StallingSource implements ReplicationSource {
  readonly describe = 'stalling leader';
  private readonly inner: LocalSource;
  private readonly keys: number;
  private release: (() => void) | undefined;

  constructor(inner: LocalSource, keys: number) {
    this.inner = inner;
    this.keys = keys;
  }

  pull(after: number, maxBytes: number, waitMs: number, options?: PullOptions): Promise<PullResult> {
    return this.inner.pull(after, maxBytes, waitMs, options);
  }

  async snapshot(): Promise<SnapshotStream> {
    const s = await this.inner.snapshot();
    const keys = this.keys;
    const closed = new Promise<void>((r) => {
      this.release = r;
    });
    async function* chunks(): AsyncIterable<
      Awaited<SnapshotStream['chunks']> extends AsyncIterable<infer C> ? C : never
    > {
      for await (const chunk of s.chunks) {
        yield chunk.slice(0, keys);
        break;
      }
      await closed;
      throw new Error('the leader went away in the middle of the snapshot');
    }
    return { seq: s.seq, chunks: chunks(), exactSeq: s.exactSeq };
  }

  close(): Promise<void> {
    this.release?.();
    return Promise.resolve();
  }
}

/** Pair is a leader and a replica store in a temp dir, and the Followers started on the replica. */
class Pair {
  readonly replicaDir: string;
  readonly marker: string;
  readonly leader: LsmStore;
  replica: LsmStore;
  private readonly followers = new Set<Follower>();

  private constructor(root: string, leader: LsmStore, replica: LsmStore) {
    this.replicaDir = join(root, 'replica');
    this.marker = join(this.replicaDir, 'resync.json');
    this.leader = leader;
    this.replica = replica;
  }

  /** open makes a pair whose leader holds k1..k`keys` (write k<i> has seq i), and the replica too when `replicaToo`. */
  static async open(keys: number, replicaToo: boolean): Promise<Pair> {
    const root = tempDir(after);
    const pair = new Pair(
      root,
      await openTestLsm(join(root, 'leader'), { memtableBytes: 8 << 20 }),
      await openTestLsm(join(root, 'replica'), { memtableBytes: 8 << 20 }),
    );
    for (let i = 1; i <= keys; i++) {
      await pair.leader.put(Buffer.from(`k${i}`), Buffer.from(`v${i}`));
      if (replicaToo) await pair.replica.put(Buffer.from(`k${i}`), Buffer.from(`v${i}`));
    }
    return pair;
  }

  /** localSource reads the leader in process. */
  localSource(): LocalSource {
    return new LocalSource(() => this.leader.replication, 'test leader');
  }

  /** rebuild wipes and reopens the replica, as a resync does. */
  readonly rebuild = async (): Promise<LsmStore> =>
    (this.replica = await reopened(this.replica, this.replicaDir, true));

  /** follow starts a Follower of the replica: rebuild and reopen as in production, the rest as `o` says. */
  follow(o: Pick<FollowerOptions, 'source'> & Partial<FollowerOptions>): Follower {
    const f = new Follower({
      store: () => this.replica.replication,
      rebuild: async () => (await this.rebuild()).replication,
      reopen: async () => (this.replica = await reopened(this.replica, this.replicaDir, false)).replication,
      publish: () => undefined,
      resyncMarker: this.marker,
      pullMaxBytes: 64,
      pullWaitMs: 50,
      ...o,
    });
    this.followers.add(f);
    f.start();
    return f;
  }

  /** stop stops `f`, as the process stopping would. */
  async stop(f: Follower): Promise<void> {
    this.followers.delete(f);
    await f.stop();
  }

  /** restartReplica opens the replica again from its directory, as a new process would. */
  async restartReplica(): Promise<void> {
    await this.replica.close();
    this.replica = await openTestLsm(this.replicaDir, { memtableBytes: 8 << 20 });
  }

  /** caughtUp waits until the replica holds all `keys` keys at the leader's seq. */
  async caughtUp(keys: number, deadline: number): Promise<void> {
    while (this.replica.lastSeq() < this.leader.lastSeq() || keysOf(this.replica) < keys) {
      assert.ok(Date.now() < deadline, `replica at ${this.replica.lastSeq()}`);
      await sleep(10);
    }
  }

  /** close stops every follower and closes both stores. */
  async close(): Promise<void> {
    for (const f of this.followers) await f.stop();
    await this.replica.close();
    await this.leader.close();
  }
}

/** loaded waits until the replica holds exactly `keys` keys (the part of a snapshot loaded so far). */
async function loaded(pair: Pair, keys: number, deadline: number): Promise<void> {
  while (keysOf(pair.replica) !== keys) {
    assert.ok(Date.now() < deadline, `the first ${keys} keys of the snapshot were not loaded`);
    await sleep(10);
  }
}

describe('a replica whose snapshot load was cut short', () => {
  it('resyncs when it starts again, and never publishes an ack over part of a snapshot', async () => {
    const pair = await Pair.open(20, false);
    const wrong: string[] = [];
    try {
      const first = pair.follow({
        source: new StallingSource(pair.localSource(), 5),
        reopen: () => Promise.reject(new Error('the load never finishes')),
        resyncFirst: true,
      });
      const deadline = Date.now() + 10000;
      await loaded(pair, 5, deadline);
      await pair.stop(first);
      // The process stops here; the replica starts again from its directory.
      await pair.restartReplica();
      const second = pair.follow({
        source: pair.localSource(),
        publish: (p) => {
          if (p.state !== 'streaming' && p.state !== 'catching-up') return;
          // Write k<i> has seq i: the leader at seq A holds k1..kA.
          const expected = Array.from({ length: p.ack }, (_, i) => `k${i + 1}`).sort();
          const keys = dump(pair.replica).map(([k]) => k);
          if (JSON.stringify(keys) !== JSON.stringify(expected))
            wrong.push(`ack ${p.ack} (${p.state}) over keys ${keys.join(',')}`);
        },
      });
      await pair.caughtUp(20, deadline + 10000);
      assert.deepEqual(wrong, [], 'published acks whose content was not the leader at that seq');
      assert.equal(second.counters.resyncs, 1, 'the replica resynced first');
      assert.deepEqual(dump(pair.replica), dump(pair.leader));
    } finally {
      await pair.close();
    }
  });

  it('publishes no ack over its old content once a resync wipes it', async () => {
    const pair = await Pair.open(20, true);
    const acks: number[] = [];
    try {
      pair.follow({
        source: new StallingSource(pair.localSource(), 5),
        reopen: () => Promise.reject(new Error('the load never finishes')),
        publish: (p) => acks.push(p.ack),
        resyncFirst: true,
      });
      // 20 keys before the wipe, 0 after it, 5 once the snapshot's first part is loaded.
      await loaded(pair, 5, Date.now() + 10000);
      // Failover ranks replicas by their published ack: a wiped one must not look like the most advanced.
      assert.equal(acks.at(-1), 0, `acks published: ${acks.join(',')}`);
    } finally {
      await pair.close();
    }
  });

  it('resyncs when it starts again after it stopped between the wipe and the load', async () => {
    const pair = await Pair.open(20, true);
    let wiped = false;
    try {
      const first = pair.follow({
        source: pair.localSource(),
        rebuild: async () => {
          await pair.rebuild();
          wiped = true;
          // The process stops right after the wipe: nothing the follower would do next happens.
          throw new Error('the process stopped');
        },
        reopen: () => Promise.reject(new Error('not reached')),
        resyncFirst: true,
      });
      const deadline = Date.now() + 10000;
      while (!wiped) {
        assert.ok(Date.now() < deadline, 'the resync did not wipe the replica');
        await sleep(10);
      }
      await pair.stop(first);
      let left: unknown;
      try {
        left = JSON.parse(readFileSync(pair.marker, 'utf8'));
      } catch {
        left = 'no marker';
      }
      assert.deepEqual(left, { loading: true }, 'a replica wiped for a resync must say so before the wipe');
      // Started again, it resyncs before it follows.
      await pair.restartReplica();
      const second = pair.follow({ source: pair.localSource() });
      await pair.caughtUp(20, deadline + 10000);
      assert.equal(second.counters.resyncs, 1, 'the replica resynced first');
      assert.deepEqual(dump(pair.replica), dump(pair.leader));
    } finally {
      await pair.close();
    }
  });
});
