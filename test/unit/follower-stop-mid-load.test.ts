/**
 * A follower stopped in the middle of a snapshot load stops at the next chunk (src/replication/
 * follower.ts, snapshot-load.ts). An HTTP snapshot ends when its source closes, but a snapshot read
 * from a leader store on the replica's own worker (LocalSource) does not: the follower loaded it to
 * the end, then reopened the store, before stop() returned. A promotion's hold, which stops the
 * replica's follower and waits for it, waited for the whole load (minutes for a large shard). The
 * half-loaded store is left to the next follower, which resyncs again (replica-rebuilds.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Follower } from '../../src/replication/follower.js';
import type { PullResult, ReplicationSource, SnapshotStream } from '../../src/replication/source.js';
import { MemoryLog } from '../../src/storage/memory-log.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import type { SnapshotEntry } from '../../src/storage/store-replication.js';

const CHUNKS = 100;

/** SlowLeader sends a snapshot of CHUNKS chunks, one every 20 ms, which closing the source does not end (as LocalSource's). */
class SlowLeader implements ReplicationSource {
  readonly describe = 'slow local leader';
  sent = 0;

  pull(): Promise<PullResult> {
    return Promise.resolve('gone');
  }

  snapshot(): Promise<SnapshotStream> {
    const chunks = async function* (this: SlowLeader): AsyncIterable<SnapshotEntry[]> {
      for (let i = 0; i < CHUNKS; i++) {
        await new Promise((r) => setTimeout(r, 20));
        this.sent++;
        yield [{ key: Buffer.from(`k${i}`), value: Buffer.from('v'), seq: 1, expiresAtMs: 0 }];
      }
    }.call(this);
    return Promise.resolve({ seq: 1, chunks, exactSeq: () => 1 });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

describe('a follower stopped while it loads a snapshot', () => {
  it('stops at the next chunk, not at the end of the load', async () => {
    const replica = new MemoryStore(Date.now, new MemoryLog());
    let current = replica.replication!;
    const source = new SlowLeader();
    const f = new Follower({
      source,
      store: () => current,
      rebuild: () => {
        current = new MemoryStore(Date.now, new MemoryLog()).replication!;
        return Promise.resolve(current);
      },
      reopen: () => Promise.resolve(current),
      publish: () => undefined,
      pullMaxBytes: 1 << 20,
      pullWaitMs: 50,
    });
    f.start();
    while (source.sent < 3) await new Promise((r) => setTimeout(r, 5));
    const t0 = Date.now();
    await f.stop();
    const ms = Date.now() - t0;
    assert.ok(source.sent < CHUNKS, `stop() returned after the whole snapshot was loaded (${ms} ms)`);
    assert.ok(ms < 1000, `stop() took ${ms} ms`);
  });
});
