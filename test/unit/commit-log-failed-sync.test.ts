/**
 * A failed fdatasync in durability `interval`: Linux marks the dirty pages it could not write
 * clean (FaultyVfs.failSyncs forgets the unsynced bytes the same way), so writes acknowledged
 * before it would be lost at a later power cut even after later syncs succeed. The log keeps the
 * bytes it has not synced and writes them again (commit-log-unsynced.ts). Also: a failed batch is
 * cut off only after every write issued has landed, whatever the Vfs (an asynchronous writeAt).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import { RETRY_MS } from '../../src/storage/commit-log-failure.js';
import { StoreLog } from '../../src/storage/store-log.js';
import { TYPE_PUT } from '../../src/storage/wal-format.js';
import { openTestLog, recoverLog, segmentFiles, STORE } from '../helpers/commit-log.js';

async function put(w: StoreLog, i: number): Promise<number> {
  return (await w.append(TYPE_PUT, Buffer.from(`k${i}`), Buffer.from(`v${i}`))).seq;
}

async function until(cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 10000;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.ok(cond(), 'timed out');
}

describe('a failed periodic sync (durability interval)', () => {
  it('keeps every acknowledged write through a later power cut: it writes the unsynced bytes again', async () => {
    const vfs = new FaultyVfs();
    const { log: w } = await openTestLog(vfs, { durability: 'interval', fsyncIntervalMs: 10 });
    for (let i = 1; i <= 5; i++) await put(w, i);
    const syncs = vfs.syncCount;
    vfs.failSyncs(1);
    // The next periodic sync fails and drops the pages of records 1..5; the log writes them again.
    await until(() => w.syncedSeq === 5 && vfs.syncCount > syncs);
    // Counted for /stats and /metrics (distkv_store_wal_sync_repairs_total).
    assert.equal(w.counters().walSyncRepairs, 1);
    await new Promise((r) => setTimeout(r, RETRY_MS + 100)); // past the refusal of a failed sync
    for (let i = 6; i <= 8; i++) await put(w, i);
    await until(() => w.syncedSeq === 8);
    const { rec } = await recoverLog(vfs.crash());
    assert.equal(rec.nextSeqs.get(STORE), 9, 'records 1..8 survive the power cut');
  });

  it('keeps the acknowledged unsynced writes when a batch synced whatever the mode fails (a base frame)', async () => {
    const vfs = new FaultyVfs();
    const { commit, log: w } = await openTestLog(vfs, { durability: 'interval', fsyncIntervalMs: 60000 });
    for (let i = 1; i <= 3; i++) await put(w, i);
    vfs.failSyncs(1);
    // A store attaching writes a base frame, synced even in interval mode: that sync fails.
    await assert.rejects(commit.attach(new StoreLog(commit, STORE + 1, 1, 1 << 20), 1));
    await new Promise((r) => setTimeout(r, RETRY_MS + 100));
    await put(w, 4);
    await commit.sync();
    const { rec } = await recoverLog(vfs.crash());
    assert.equal(rec.nextSeqs.get(STORE), 5, 'records 1..4 survive the power cut');
  });

  it('refuses every write for good once the sync after writing the batches again fails too', async () => {
    const vfs = new FaultyVfs();
    const { log: w } = await openTestLog(vfs, { durability: 'interval', fsyncIntervalMs: 10 });
    await put(w, 1);
    vfs.failSyncs(2);
    // Both syncs fail within a few intervals; the first refusal would end after RETRY_MS.
    await new Promise((r) => setTimeout(r, 100 + RETRY_MS + 100));
    // Its own code (before, DISK_FULL, as a full disk that passes): writes wait for a restart.
    await assert.rejects(put(w, 2), { code: 'COMMIT_LOG_BROKEN', message: /sync failed twice/ });
  });
});

/** SlowWrites is a FaultyVfs whose writes land a few event-loop turns after they are issued. */
class SlowWrites extends FaultyVfs {
  override async doWriteAt(path: string, data: Uint8Array, position: number): Promise<void> {
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    return super.doWriteAt(path, data, position);
  }
}

describe('a failed batch with an asynchronous Vfs', () => {
  it('is cut off only after the writes issued behind it landed, so no refused record stays in the log', async () => {
    const vfs = new SlowWrites();
    const { log: w } = await openTestLog(vfs, { durability: 'fsync' });
    await put(w, 0);
    vfs.failSyncs(1);
    const a = w.append(TYPE_PUT, Buffer.from('a'), Buffer.alloc(2000, 0x61));
    await new Promise((r) => setImmediate(r));
    const bValue = Buffer.alloc(2000, 0x62);
    const b = w.append(TYPE_PUT, Buffer.from('b'), bValue);
    await assert.rejects(a);
    await assert.rejects(b);
    await new Promise((r) => setTimeout(r, RETRY_MS + 100));
    await put(w, 1);
    for (const f of segmentFiles(vfs)) assert.ok(!vfs.file(f).data.includes(bValue), `${f} holds refused b`);
    const { records } = await recoverLog(vfs.crash());
    assert.deepEqual(
      records.map((r) => r[3]),
      ['k0', 'k1'],
    );
  });
});
