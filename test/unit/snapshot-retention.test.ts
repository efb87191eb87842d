/**
 * A leader's log after it served a snapshot (src/replication/leader-state.ts, retention): a replica
 * rebuilt from a snapshot at seq S pulls from S next, so the leader keeps S + 1 on in its log (as
 * for a replica's ack, within `wal_retention_bytes`) while the snapshot is read and for
 * REPLICA_FORGET_MS after its last page. Without it, a shard whose snapshot took longer to load
 * than the leader's log kept S + 1 under writes answered the replica's first pull 410 (LOG_GONE),
 * and the replica resynced again, each time over a larger log: it never caught up.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { MemoryLog } from '../../src/storage/memory-log.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import { testReplicationHost } from '../helpers/replication-host.js';
import { tempDir } from '../helpers/temp-dir.js';
import { testStoreSpec } from '../helpers/worker-host.js';

const REPLICA = '127.0.0.1:7002';

async function writeKeys(store: MemoryStore, from: number, to: number): Promise<void> {
  for (let i = from; i <= to; i++) await store.put(Buffer.from(`k${i}`), Buffer.from(`v${i}`));
}

describe("a leader's log after a snapshot", () => {
  it('still holds the seq after a snapshot it served when the rebuilt replica first pulls, whatever was written meanwhile', async () => {
    // The log keeps its 4 newest records, and older ones only for a replica that still needs them.
    const store = new MemoryStore(Date.now, new MemoryLog(4));
    const spec = testStoreSpec(tempDir(after), 0, 'memory');
    const host = testReplicationHost(new Map([[0, { spec, store }]]));
    host.start();
    after(() => host.stop());
    await writeKeys(store, 1, 10);

    // A replica's resync reads the snapshot page by page, at seq 10; writes go on meanwhile.
    const bounds = { limit: 3, maxBytes: 1 << 20 };
    let page = host.snapshotPage(0, null, bounds, null);
    assert.equal(page.seq, 10);
    await writeKeys(store, 11, 20);
    while (page.entries.length === bounds.limit)
      page = host.snapshotPage(0, page.entries[page.entries.length - 1]!.key, bounds, 10);
    await writeKeys(store, 21, 40);

    // Loaded, the replica pulls from the snapshot's seq.
    const answer = await host.pull(0, 10, 1 << 20, 0, REPLICA, 0);
    assert.equal(answer.gone, false, 'the leader no longer held seq 11: the replica must resync again');
    assert.ok(answer.records.length > 0);
  });
});
