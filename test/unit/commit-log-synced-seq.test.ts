/**
 * StoreLog.syncedSeq, which /stats reports as `syncedSeq`: every record up to it survives a power
 * loss (modelled by FaultyVfs.crash), in each durability mode and right after a reopen.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Durability } from '../../src/config/schema.js';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import type { StoreLog } from '../../src/storage/store-log.js';
import { TYPE_PUT } from '../../src/storage/wal-format.js';
import { openTestLog, recoverLog, STORE } from '../helpers/commit-log.js';

async function open(vfs: FaultyVfs, durability: Durability, fsyncIntervalMs = 20): Promise<StoreLog> {
  return (await openTestLog(vfs, { durability, fsyncIntervalMs })).log;
}

async function survivingSeq(vfs: FaultyVfs): Promise<number> {
  return ((await recoverLog(vfs.crash())).rec.nextSeqs.get(STORE) ?? 1) - 1;
}

async function put(w: StoreLog, i: number): Promise<number> {
  return (await w.append(TYPE_PUT, Buffer.from(`k${i}`), Buffer.from(`v${i}`))).seq;
}

describe('StoreLog.syncedSeq', () => {
  it('equals each acknowledged seq in fsync mode, and a power loss keeps all of them', async () => {
    const vfs = new FaultyVfs();
    const w = await open(vfs, 'fsync');
    for (let i = 1; i <= 5; i++) {
      const seq = await put(w, i);
      assert.equal(w.syncedSeq, seq);
    }
    assert.equal(await survivingSeq(vfs), 5);
  });

  it('trails acknowledgements in interval mode until the timer syncs, and never claims more than survives', async () => {
    const vfs = new FaultyVfs();
    const w = await open(vfs, 'interval', 20);
    const seq = await Promise.all([put(w, 1), put(w, 2), put(w, 3)]).then((s) => Math.max(...s));
    assert.ok(w.syncedSeq < seq, 'acknowledged before synced');
    const deadline = Date.now() + 10000;
    while (w.syncedSeq < seq && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(w.syncedSeq, seq);
    assert.ok((await survivingSeq(vfs)) >= w.syncedSeq);
  });

  it('stays at 0 in none mode until the log is closed', async () => {
    const vfs = new FaultyVfs();
    const w = await open(vfs, 'none');
    await put(w, 1);
    await put(w, 2);
    assert.equal(w.syncedSeq, 0);
    assert.equal(await survivingSeq(vfs), 0, 'nothing was synced: a power loss loses both');
  });

  it('starts at the recovered seq after a reopen, having synced what recovery read', async () => {
    const vfs = new FaultyVfs();
    const first = await open(vfs, 'none');
    await put(first, 1);
    await put(first, 2);
    // The process dies without closing: the records are in the page cache only. A restart reads them…
    const w = await open(vfs, 'none');
    assert.equal(w.syncedSeq, 2);
    // …and a power loss right after must not take back what syncedSeq claims.
    assert.equal(await survivingSeq(vfs), 2);
  });
});
