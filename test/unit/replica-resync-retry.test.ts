/**
 * A resync that fails after it wiped the replica (the leader went away in the middle of the
 * snapshot, or the fresh store could not be opened) must be tried again: the replica holds
 * nothing it can pull onto, and its slot answers UNAVAILABLE until a load finishes
 * (src/replication/follower.ts, src/replication/replication-host.ts). Before, a resync that a pull
 * asked for ('diverged', 'gone', a fork) was not retried: the follower went on pulling through a
 * store that was never reopened, failing every time, until the process restarted.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { HostedStore, ReplicationHost } from '../../src/replication/replication-host.js';
import type { LsmStore } from '../../src/storage/lsm-store.js';
import type { Store } from '../../src/storage/store.js';
import type { StoreSpec } from '../../src/worker/messages.js';
import { openTestLsm } from '../helpers/lsm.js';
import { dump } from '../helpers/replica-pair.js';
import { tempDir } from '../helpers/temp-dir.js';
import { inDir, localReplicaSpec, testReplicationHost } from '../helpers/replication-host.js';

const b = (s: string): Buffer => Buffer.from(s);
const REPLICA = '127.0.0.1:2';

/** Setup is a leader and a replica (on one worker, each with a log of its own) whose replica is ahead: it must resync. */
interface Setup {
  leader: LsmStore;
  hosted: Map<number, HostedStore>;
  replicaSpec: StoreSpec;
}

async function setUp(): Promise<Setup> {
  const root = tempDir(after);
  const leaderSpec = inDir(join(root, 'leader'), 'leader');
  const replicaSpec = localReplicaSpec(join(root, 'replica'), 1, REPLICA, 0);
  const leader = await openTestLsm(leaderSpec.dir);
  const replica = await openTestLsm(replicaSpec.dir);
  for (let i = 1; i <= 3; i++) await leader.put(b(`k${i}`), b(`v${i}`));
  // The replica holds writes its leader does not have (seqs 1..5 of another history): a pull
  // answers 'diverged' and the follower resyncs from the leader's snapshot.
  for (let i = 1; i <= 5; i++) await replica.put(b(`x${i}`), b(`y${i}`));
  const hosted = new Map<number, HostedStore>([
    [0, { spec: leaderSpec, store: leader }],
    [1, { spec: replicaSpec, store: replica }],
  ]);
  return { leader, hosted, replicaSpec };
}

/** converged waits (at most 15 s) until the hosted replica holds what the leader holds, at its seq. */
async function converged(s: Setup): Promise<void> {
  const want = JSON.stringify(dump(s.leader));
  const deadline = Date.now() + 15000;
  let last = '';
  for (;;) {
    const h = s.hosted.get(1)!;
    try {
      const got = JSON.stringify(dump(h.store));
      if (got === want && h.store.lastSeq() === s.leader.lastSeq()) return;
      last = `at seq ${h.store.lastSeq()} holding ${got}`;
    } catch (err) {
      last = (err as Error).message;
    }
    assert.ok(Date.now() < deadline, `the replica never resynced: ${last}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function hostOf(s: Setup, open: (spec: StoreSpec) => Promise<Store>): ReplicationHost {
  return testReplicationHost(s.hosted, open);
}

describe('a replica whose resync failed after the wipe', () => {
  it('tries the resync again when the fresh store could not be opened', async () => {
    const s = await setUp();
    let opens = 0;
    const host = hostOf(s, (spec) => {
      opens++;
      // The first open after the wipe fails (no file descriptors left, the disk full, ...).
      if (opens === 1) return Promise.reject(new Error('injected: could not open the fresh store'));
      return openTestLsm(spec.dir);
    });
    host.start();
    try {
      await converged(s);
    } finally {
      await host.stop();
      await s.hosted.get(1)!.store.close();
      await s.leader.close();
    }
  });

  it('tries the resync again when the snapshot broke off in the middle', async () => {
    const s = await setUp();
    const leaderSeam = s.leader.replication;
    const scan = leaderSeam.scan.bind(leaderSeam);
    let scans = 0;
    // The first snapshot's first page fails (the leader went away): the replica is wiped by then.
    leaderSeam.scan = (...args: Parameters<typeof scan>) => {
      scans++;
      if (scans === 1) throw new Error('injected: the leader went away in the middle of the snapshot');
      return scan(...args);
    };
    const opened: LsmStore[] = [];
    const host = hostOf(s, async (spec) => {
      const store = await openTestLsm(spec.dir);
      opened.push(store);
      return store;
    });
    host.start();
    try {
      await converged(s);
      // The store the broken load had opened was closed: left open, in a worker's shared commit
      // log its id would keep every later open of the replica from attaching.
      const current = s.hosted.get(1)!.store;
      const open = opened.filter((o) => o !== current && !o.replication.isClosed());
      assert.equal(open.length, 0, 'a store opened by a failed resync was left open');
    } finally {
      await host.stop();
      await s.hosted.get(1)!.store.close();
      await s.leader.close();
    }
  });
});
