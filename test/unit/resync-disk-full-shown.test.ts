/**
 * A replica whose every resync fails on its own full disk (a new or wiped replica on a disk too
 * small for the shard: the common way to meet a full disk) must keep saying so in `/cluster`:
 * `local_error` DISK_FULL (src/replication/lag.ts), until a resync or pull succeeds. The follower
 * keeps its `localError` while it tries the resync again (follower.ts), but lag.ts reads
 * SLOT_LOCAL_ERROR only in state `disconnected`: for the whole of each new attempt (a snapshot
 * stream of seconds to minutes) it shows a bare `resyncing`, and `distkv cluster` says "is
 * resyncing from a snapshot of its leader ... (run distkv cluster again)"; `disk-failed` shows
 * only during the backoff between two attempts (at most 1 s). And `distkv cluster` puts its
 * leader's word (`leader_view.resyncing`, which stays true for 30 s after a stream ended complete)
 * before the replica's own: a replica whose load failed on its disk once the stream had ended
 * (finishing the load, reopening the store) reads "is resyncing" there although its node says
 * `disk-failed` (src/cli/cluster-health.ts, replicaProblem).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { replicaProblem } from '../../src/cli/cluster-health.js';
import { Follower } from '../../src/replication/follower.js';
import { replicaLag } from '../../src/replication/lag.js';
import { Positions } from '../../src/replication/positions.js';
import type { ReplicationSource, SnapshotStream } from '../../src/replication/source.js';
import type { StoreReplication } from '../../src/storage/store-replication.js';
import { openTestLsm } from '../helpers/lsm.js';
import { slowSnapshot } from '../helpers/slow-snapshot.js';
import { tempDir } from '../helpers/temp-dir.js';

/** CHUNKS of the snapshot, one every CHUNK_MS: an attempt streams for about CHUNKS * CHUNK_MS. */
const CHUNKS = 8;
const CHUNK_MS = 60;
/** FULL_AFTER: the replica's disk is full once it has loaded this many chunks of an attempt. */
const FULL_AFTER = 6;
const PULL_WAIT_MS = 100;

/** Leader streams a snapshot slowly, chunk by chunk; its pulls are never reached. */
class SlowSnapshotLeader implements ReplicationSource {
  readonly describe = 'test leader';

  pull(): Promise<never> {
    return Promise.reject(new Error('no pull in this test: every resync fails'));
  }

  snapshot(): Promise<SnapshotStream> {
    return slowSnapshot(CHUNKS, CHUNK_MS);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

describe('a replica whose resyncs fail on its own full disk', () => {
  const dir = tempDir(after);

  it('keeps showing local_error DISK_FULL while it tries the resync again, not a bare resyncing', async () => {
    const replica = await openTestLsm(join(dir, 'r'));
    const real = replica.replication;
    let loaded = 0;
    // Every attempt loads a few chunks, then the disk is full (ENOSPC from the write).
    const filling: StoreReplication = Object.assign(Object.create(real) as StoreReplication, {
      loadSnapshotChunk: () => {
        if (++loaded % CHUNKS < FULL_AFTER) return Promise.resolve();
        const full = Promise.reject(
          Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }),
        );
        // Marked handled as lmdb-js's own commit promise is in a worker (quietCommitFailure):
        // the load reads the failure through the promise it was returned.
        full.catch(() => undefined);
        return full;
      },
    });
    const positions = new Positions(new SharedArrayBuffer(Positions.bytesFor(1)));
    const follower = new Follower({
      source: new SlowSnapshotLeader(),
      store: () => real,
      rebuild: () => Promise.resolve(filling),
      reopen: () => Promise.resolve(real),
      publish: (p) => {
        positions.publishFollower(0, p);
      },
      pullMaxBytes: 1 << 20,
      pullWaitMs: PULL_WAIT_MS,
      resyncFirst: true,
      dir: join(dir, 'r'),
    });
    const shown: string[] = [];
    try {
      follower.start();
      // Until the first failure is published (bounded).
      const deadline = Date.now() + 10000;
      while (replicaLag(positions, 0, undefined, PULL_WAIT_MS).state !== 'disk-failed') {
        assert.ok(Date.now() < deadline, 'no disk-failed within 10 s');
        await new Promise((r) => setTimeout(r, 5));
      }
      // Then what /cluster would show, sampled for three attempts' worth of time.
      const end = Date.now() + 3 * CHUNKS * CHUNK_MS + 1000;
      while (Date.now() < end) {
        const lag = replicaLag(positions, 0, undefined, PULL_WAIT_MS);
        shown.push(lag.known ? 'known' : `${lag.state}/${lag.localError ?? '-'}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      await follower.stop();
      await replica.close();
    }
    const counts = new Map<string, number>();
    for (const s of shown) counts.set(s, (counts.get(s) ?? 0) + 1);
    const without = shown.filter((s) => !s.endsWith('/DISK_FULL')).length;
    assert.equal(
      without,
      0,
      `${String(without)} of ${String(shown.length)} samples after the first DISK_FULL did not show it: ${JSON.stringify([...counts])}`,
    );
  });
});

describe('distkv cluster on a disk-failed replica its leader just streamed a whole snapshot', () => {
  it("names the replica's disk, not a resync, when the replica's node says disk-failed", () => {
    const line = replicaProblem('shard-0', {
      address: '127.0.0.1:1',
      down: false,
      state: 'disk-failed',
      local_error: 'DISK_FULL',
      lag_seqs: null,
      last_contact_ms_ago: 400,
      // The leader's view: its stream to the replica ended complete 2 s ago, no pull since.
      leader_view: {
        never_pulled: false,
        following: false,
        last_pull_ms_ago: 9000,
        resyncing: true,
        last_snapshot_ms_ago: 2000,
        snapshot_bytes: 64 * 1024 * 1024,
      },
    });
    assert.match(line ?? '', /its own disk failed \(DISK_FULL\)/, `the line: ${line ?? 'none'}`);
  });
});
