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
import { Follower } from '../../src/replication/follower.js';
import { LocalSource } from '../../src/replication/local-source.js';
import type { PullResult, ReplicationSource, SnapshotStream } from '../../src/replication/source.js';
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

  pull(after: number, maxBytes: number, waitMs: number, epoch?: number): Promise<PullResult> {
    return this.inner.pull(after, maxBytes, waitMs, epoch);
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

describe('a replica whose snapshot load was cut short', () => {
  it('resyncs when it starts again, and never publishes an ack over part of a snapshot', async () => {
    const root = tempDir(after);
    const replicaDir = join(root, 'replica');
    const marker = join(replicaDir, 'resync.json');
    const leader = await openTestLsm(join(root, 'leader'), { memtableBytes: 8 << 20 });
    let replica: LsmStore = await openTestLsm(replicaDir, { memtableBytes: 8 << 20 });
    const follow = (source: ReplicationSource, check: boolean): Follower => {
      const f = new Follower({
        source,
        store: () => replica.replication,
        rebuild: async () => (replica = await reopened(replica, replicaDir, true)).replication,
        reopen: async () => (replica = await reopened(replica, replicaDir, false)).replication,
        publish: (p) => {
          if (!check || (p.state !== 'streaming' && p.state !== 'catching-up')) return;
          // Write k<i> has seq i: the leader at seq A holds k1..kA.
          const expected = Array.from({ length: p.ack }, (_, i) => `k${i + 1}`).sort();
          const keys = dump(replica).map(([k]) => k);
          if (JSON.stringify(keys) !== JSON.stringify(expected))
            wrong.push(`ack ${p.ack} (${p.state}) over keys ${keys.join(',')}`);
        },
        resyncMarker: marker,
        pullMaxBytes: 64,
        pullWaitMs: 50,
      });
      f.start();
      return f;
    };
    const wrong: string[] = [];
    try {
      for (let i = 1; i <= 20; i++) await leader.put(Buffer.from(`k${i}`), Buffer.from(`v${i}`));
      const local = new LocalSource(() => leader.replication, 'test leader');
      const first = new Follower({
        source: new StallingSource(local, 5),
        store: () => replica.replication,
        rebuild: async () => (replica = await reopened(replica, replicaDir, true)).replication,
        reopen: () => Promise.reject(new Error('the load never finishes')),
        publish: () => undefined,
        resyncMarker: marker,
        resyncFirst: true,
        pullMaxBytes: 64,
        pullWaitMs: 50,
      });
      first.start();
      const deadline = Date.now() + 10000;
      while (keysOf(replica) < 5) {
        assert.ok(Date.now() < deadline, 'the first 5 keys of the snapshot were not loaded');
        await sleep(10);
      }
      await first.stop();
      // The process stops here; the replica starts again from its directory.
      await replica.close();
      replica = await openTestLsm(replicaDir, { memtableBytes: 8 << 20 });
      const second = follow(new LocalSource(() => leader.replication, 'test leader'), true);
      try {
        while (replica.lastSeq() < leader.lastSeq() || keysOf(replica) < 20) {
          assert.ok(Date.now() < deadline + 10000, `replica at ${replica.lastSeq()}`);
          await sleep(10);
        }
        assert.deepEqual(wrong, [], 'published acks whose content was not the leader at that seq');
        assert.equal(second.counters.resyncs, 1, 'the replica resynced first');
        assert.deepEqual(dump(replica), dump(leader));
      } finally {
        await second.stop();
      }
    } finally {
      await replica.close();
      await leader.close();
    }
  });

  it('publishes no ack over its old content once a resync wipes it', async () => {
    const root = tempDir(after);
    const replicaDir = join(root, 'replica');
    const leader = await openTestLsm(join(root, 'leader'), { memtableBytes: 8 << 20 });
    let replica: LsmStore = await openTestLsm(replicaDir, { memtableBytes: 8 << 20 });
    const acks: number[] = [];
    let f: Follower | undefined;
    try {
      for (let i = 1; i <= 20; i++) {
        await leader.put(Buffer.from(`k${i}`), Buffer.from(`v${i}`));
        await replica.put(Buffer.from(`k${i}`), Buffer.from(`v${i}`));
      }
      f = new Follower({
        source: new StallingSource(new LocalSource(() => leader.replication, 'test leader'), 5),
        store: () => replica.replication,
        rebuild: async () => (replica = await reopened(replica, replicaDir, true)).replication,
        reopen: () => Promise.reject(new Error('the load never finishes')),
        publish: (p) => acks.push(p.ack),
        resyncMarker: join(replicaDir, 'resync.json'),
        resyncFirst: true,
        pullMaxBytes: 64,
        pullWaitMs: 50,
      });
      f.start();
      const deadline = Date.now() + 10000;
      // 20 keys before the wipe, 0 after it, 5 once the snapshot's first part is loaded.
      while (keysOf(replica) !== 5) {
        assert.ok(Date.now() < deadline, 'the first 5 keys of the snapshot were not loaded');
        await sleep(10);
      }
      // Failover ranks replicas by their published ack: a wiped one must not look like the most advanced.
      assert.equal(acks.at(-1), 0, `acks published: ${acks.join(',')}`);
    } finally {
      await f?.stop();
      await replica.close();
      await leader.close();
    }
  });
  it('resyncs when it starts again after it stopped between the wipe and the load', async () => {
    const root = tempDir(after);
    const replicaDir = join(root, 'replica');
    const marker = join(replicaDir, 'resync.json');
    const leader = await openTestLsm(join(root, 'leader'), { memtableBytes: 8 << 20 });
    let replica: LsmStore = await openTestLsm(replicaDir, { memtableBytes: 8 << 20 });
    let wiped = false;
    let f: Follower | undefined;
    try {
      for (let i = 1; i <= 20; i++) {
        await leader.put(Buffer.from(`k${i}`), Buffer.from(`v${i}`));
        await replica.put(Buffer.from(`k${i}`), Buffer.from(`v${i}`));
      }
      f = new Follower({
        source: new LocalSource(() => leader.replication, 'test leader'),
        store: () => replica.replication,
        rebuild: async () => {
          replica = await reopened(replica, replicaDir, true);
          wiped = true;
          // The process stops right after the wipe: nothing the follower would do next happens.
          throw new Error('the process stopped');
        },
        reopen: () => Promise.reject(new Error('not reached')),
        publish: () => undefined,
        resyncMarker: marker,
        resyncFirst: true,
        pullMaxBytes: 64,
        pullWaitMs: 50,
      });
      f.start();
      const deadline = Date.now() + 10000;
      while (!wiped) {
        assert.ok(Date.now() < deadline, 'the resync did not wipe the replica');
        await sleep(10);
      }
      await f.stop();
      f = undefined;
      let left: unknown;
      try {
        left = JSON.parse(readFileSync(marker, 'utf8'));
      } catch {
        left = 'no marker';
      }
      assert.deepEqual(left, { loading: true }, 'a replica wiped for a resync must say so before the wipe');
      // Started again, it resyncs before it follows.
      await replica.close();
      replica = await openTestLsm(replicaDir, { memtableBytes: 8 << 20 });
      f = new Follower({
        source: new LocalSource(() => leader.replication, 'test leader'),
        store: () => replica.replication,
        rebuild: async () => (replica = await reopened(replica, replicaDir, true)).replication,
        reopen: async () => (replica = await reopened(replica, replicaDir, false)).replication,
        publish: () => undefined,
        resyncMarker: marker,
        pullMaxBytes: 64,
        pullWaitMs: 50,
      });
      f.start();
      while (replica.lastSeq() < leader.lastSeq() || keysOf(replica) < 20) {
        assert.ok(Date.now() < deadline + 10000, `replica at ${replica.lastSeq()}`);
        await sleep(10);
      }
      assert.equal(f.counters.resyncs, 1, 'the replica resynced first');
      assert.deepEqual(dump(replica), dump(leader));
    } finally {
      await f?.stop();
      await replica.close();
      await leader.close();
    }
  });
});
