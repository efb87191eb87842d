/**
 * A replica whose resync failed on its own full disk shows `disk-failed` with `local_error` while
 * it tries again (src/replication/lag.ts), and no longer once a resync succeeds: its disk took the
 * whole snapshot (src/replication/follower.ts clears the code then, not only at the next pull
 * applied, which may wait: a leader slow to answer, a long poll).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Follower } from '../../src/replication/follower.js';
import { replicaLag } from '../../src/replication/lag.js';
import { Positions } from '../../src/replication/positions.js';
import type { ReplicationSource, SnapshotStream } from '../../src/replication/source.js';
import type { StoreReplication } from '../../src/storage/store-replication.js';
import { openTestLsm } from '../helpers/lsm.js';
import { slowSnapshot } from '../helpers/slow-snapshot.js';
import { tempDir } from '../helpers/temp-dir.js';

const CHUNKS = 4;
const PULL_WAIT_MS = 100;

/** QuietLeader streams a small snapshot; its pulls are answered only when it closes (rejected then). */
class QuietLeader implements ReplicationSource {
  readonly describe = 'test leader';
  private readonly closers: (() => void)[] = [];
  /** pulls counts the pulls asked: the first comes once a resync succeeded. */
  pulls = 0;

  pull(): Promise<never> {
    this.pulls++;
    return new Promise((_, reject) => {
      this.closers.push(() => {
        reject(new Error('the source closed'));
      });
    });
  }

  snapshot(): Promise<SnapshotStream> {
    return slowSnapshot(CHUNKS, 5);
  }

  close(): Promise<void> {
    for (const c of this.closers.splice(0)) c();
    return Promise.resolve();
  }
}

describe('a replica whose resync failed on its full disk, then succeeded', () => {
  const dir = tempDir(after);

  it('drops local_error once the resync succeeds, before any pull is answered', async () => {
    const replica = await openTestLsm(join(dir, 'r'));
    const real = replica.replication;
    let attempts = 0;
    let writes = 0;
    // The first attempt's second chunk fails on a full disk; the second attempt loads them all.
    const target = (): StoreReplication =>
      Object.assign(Object.create(real) as StoreReplication, {
        loadSnapshotChunk: () =>
          attempts === 1 && ++writes === 2
            ? Promise.reject(
                Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }),
              )
            : Promise.resolve(),
        finishSnapshot: () => Promise.resolve(),
        setHistory: () => undefined,
      });
    const positions = new Positions(new SharedArrayBuffer(Positions.bytesFor(1)));
    const leader = new QuietLeader();
    const follower = new Follower({
      source: leader,
      store: () => real,
      rebuild: () => {
        attempts++;
        return Promise.resolve(target());
      },
      reopen: () => Promise.resolve(real),
      publish: (p) => {
        positions.publishFollower(0, p);
      },
      pullMaxBytes: 1 << 20,
      pullWaitMs: PULL_WAIT_MS,
      resyncFirst: true,
      dir: join(dir, 'r'),
    });
    const lag = (): string => {
      const l = replicaLag(positions, 0, undefined, PULL_WAIT_MS);
      return l.known ? 'known' : `${l.state}/${l.localError ?? '-'}`;
    };
    const seen: string[] = [];
    try {
      follower.start();
      // Until the second attempt is done and the follower waits on its first pull (bounded).
      const deadline = Date.now() + 10000;
      while (leader.pulls === 0) {
        assert.ok(Date.now() < deadline, `no resync succeeded within 10 s (${JSON.stringify(seen)})`);
        if (seen.at(-1) !== lag()) seen.push(lag());
        await new Promise((r) => setTimeout(r, 2));
      }
      assert.equal(attempts, 2);
      assert.ok(seen.includes('disk-failed/DISK_FULL'), `never disk-failed: ${JSON.stringify(seen)}`);
      assert.equal(lag(), 'resyncing/-', `after the resync that succeeded: ${JSON.stringify(seen)}`);
    } finally {
      await follower.stop();
      await replica.close();
    }
  });
});
