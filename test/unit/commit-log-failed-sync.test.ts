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
import { seededRandom } from '../helpers/random.js';

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

  it('keeps the acknowledged writes a sync() covered when the sync of a base frame beside it fails', async () => {
    const vfs = new FaultyVfs();
    vfs.syncTurns = 3;
    const { commit, log: w } = await openTestLog(vfs, { durability: 'interval', fsyncIntervalMs: 60000 });
    for (let i = 1; i <= 3; i++) await put(w, i);
    const synced = commit.sync();
    // The sync of records 1..3 is running when a store attaches: its base frame's sync fails,
    // dropping their pages, and reports it only after the first sync returned 0.
    await new Promise((r) => setImmediate(r));
    vfs.failSyncs(1, 6);
    await assert.rejects(commit.attach(new StoreLog(commit, STORE + 1, 1, 1 << 20), 1));
    await synced;
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

/**
 * Two fdatasyncs in flight on one file (durability fsync pipelines them): on Linux a writeback
 * error is reported once per open file, so the one covering an earlier batch can return 0 while the
 * other takes the EIO that was about that batch's pages. FaultyVfs.failSyncs drops every unsynced
 * byte at once, the earlier batch's too, while that batch's own slow sync still completes.
 */
describe('a failed fdatasync beside another in flight (durability fsync)', () => {
  /**
   * overlapped writes k0, then k1 (its sync takes 3 turns) and, while k1's sync runs, k2, whose
   * sync fails: `fails` syncs fail from there, each reporting it `turns` turns after it was called.
   */
  async function overlapped(
    vfs: FaultyVfs,
    fails: number,
    turns: number,
  ): Promise<{ w: StoreLog; first: PromiseSettledResult<number>; second: PromiseSettledResult<number> }> {
    vfs.syncTurns = 3;
    const { log: w } = await openTestLog(vfs, { durability: 'fsync' });
    assert.equal(await put(w, 0), 1);
    const first = put(w, 1);
    // k1's batch is appended and its sync is running when k2's batch is taken.
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    vfs.failSyncs(fails, turns);
    const second = put(w, 2);
    const [a, b] = await Promise.allSettled([first, second]);
    return { w, first: a, second: b };
  }

  it('refuses the earlier batch when the failure is known before it settles, and loses nothing at a power cut', async () => {
    const vfs = new FaultyVfs();
    const { w, first, second } = await overlapped(vfs, 1, 0);
    assert.equal(first.status, 'rejected', 'k1 is refused with the failed batch');
    assert.equal(second.status, 'rejected', 'k2, whose sync failed, is refused');
    await new Promise((r) => setTimeout(r, RETRY_MS + 100));
    assert.equal(await put(w, 3), 2, 'seqs stay gapless');
    const { records } = await recoverLog(vfs.crash());
    assert.deepEqual(
      records.map((r) => r[3]),
      ['k0', 'k3'],
    );
  });

  it('writes an earlier batch acknowledged before the failure was known again before the cut, so a power cut keeps it', async () => {
    const vfs = new FaultyVfs();
    // k2's failure is reported after k1's own sync returned and k1 was acknowledged.
    const { w, first, second } = await overlapped(vfs, 1, 6);
    assert.deepEqual(first, { status: 'fulfilled', value: 2 }, 'k1 acknowledged by its own sync');
    assert.equal(second.status, 'rejected');
    await new Promise((r) => setTimeout(r, RETRY_MS + 100));
    assert.equal(await put(w, 3), 3);
    const { records } = await recoverLog(vfs.crash());
    assert.deepEqual(
      records.map((r) => r[3]),
      ['k0', 'k1', 'k3'],
    );
  });

  it('refuses every write for good when the cut cannot be synced after writing an acknowledged batch again', async () => {
    const vfs = new FaultyVfs();
    // k2's sync fails, and so does the cut's sync that follows writing k1 again.
    const { w, first, second } = await overlapped(vfs, 2, 6);
    assert.equal(first.status, 'fulfilled');
    assert.equal(second.status, 'rejected');
    await new Promise((r) => setTimeout(r, RETRY_MS + 100));
    await assert.rejects(put(w, 3), { code: 'COMMIT_LOG_BROKEN' });
  });

  /**
   * recoversAfter checks the disk after a power cut: no damage, every acknowledged write (`acked`,
   * in order), past them only refused ones (of `all`, in order: as writes in flight at a power cut
   * they may be there or not), and the log goes on after them. Returns how many refused were kept.
   */
  async function recoversAfter(
    rebooted: FaultyVfs,
    acked: string[],
    all: string[],
    where: string,
  ): Promise<number> {
    const { rec, records } = await recoverLog(rebooted);
    const keys = records.map((r) => r[3]);
    assert.deepEqual(rec.damage, [], `${where}: recovery finds no damage`);
    assert.deepEqual(keys.slice(0, acked.length), acked, `${where}: every acknowledged write is there`);
    assert.deepEqual(keys, all.slice(0, keys.length), `${where}: past them, only refused writes, in order`);
    const again = await openTestLog(rebooted, { durability: 'fsync' });
    assert.equal(await put(again.log, 9), keys.length + 1, `${where}: the next seq follows them`);
    await again.close();
    const after = await recoverLog(rebooted.crash());
    assert.deepEqual(after.rec.damage, [], `${where}: and the log reads back whole`);
    return keys.length - acked.length;
  }

  /**
   * A log broken by a failed cut holds the refused batches past its end until the next try of the
   * cut, or close. k1 and k2 are written with slow syncs, then k3, whose sync fails `turns` turns
   * on; the cut's sync after writing the acknowledged batches again fails too: the log breaks.
   */
  it('recovers every acknowledged write, and no damage, when the power goes while the log is broken with a refused batch past its end', async () => {
    let broken = 0;
    for (let turns = 0; turns <= 8; turns++) {
      for (const tear of [false, true, 'pages'] as const) {
        const vfs = new FaultyVfs();
        vfs.syncTurns = 3;
        const { log: w } = await openTestLog(vfs, { durability: 'fsync' });
        assert.equal(await put(w, 0), 1);
        const writes = [put(w, 1)];
        for (let i = 0; i < 2; i++) await new Promise((r) => setImmediate(r));
        writes.push(put(w, 2));
        for (let i = 0; i < 2; i++) await new Promise((r) => setImmediate(r));
        vfs.failSyncs(2, turns);
        writes.push(put(w, 3));
        const settled = await Promise.allSettled(writes);
        assert.equal(settled[2]!.status, 'rejected', 'k3, whose sync failed, is refused');
        const acked = ['k0', ...settled.flatMap((x, i) => (x.status === 'fulfilled' ? [`k${i + 1}`] : []))];
        // The cut and its failed sync are over a few turns on.
        await new Promise((r) => setTimeout(r, 20));
        const code = await put(w, 4).then(
          () => 'written',
          (err: unknown) => (err as { code?: string }).code,
        );
        if (code === 'COMMIT_LOG_BROKEN') broken++;
        const where = `failure reported ${turns} turns on, tear ${tear}, ${acked.join(' ')} acknowledged, then ${code}`;
        await recoversAfter(vfs.crash(tear, seededRandom(turns)), acked, ['k0', 'k1', 'k2', 'k3'], where);
      }
    }
    assert.ok(broken > 0, 'some runs broke the log');
  });

  it('recovers a refused batch whose own sync returned 0 as a write in flight when the power goes before its cut is synced', async () => {
    let kept = 0;
    for (const tear of [false, true, 'pages'] as const) {
      const vfs = new FaultyVfs();
      // k1's own sync completes, k2's fails first: both are refused; the cut's sync fails too.
      const { first, second } = await overlapped(vfs, 2, 0);
      assert.equal(first.status, 'rejected');
      assert.equal(second.status, 'rejected');
      // The power goes at once, as the refusals are answered, while the cut runs.
      kept += await recoversAfter(
        vfs.crash(tear, seededRandom(1)),
        ['k0'],
        ['k0', 'k1', 'k2'],
        `tear ${tear}`,
      );
    }
    assert.ok(kept > 0, 'k1, durable past the end the cut could not make durable, is read back');
  });
});

/**
 * LateDrops is a FaultyVfs whose failed syncs drop the unsynced bytes when they report the error,
 * not when they are called (the writeback that fails may take pages written while the sync ran,
 * as the pages written again after an earlier failure), whose writes land `writeTurns` turns after
 * they are issued, and whose successful syncs see the file `lag` turns after they are called.
 */
class LateDrops extends FaultyVfs {
  writeTurns = 0;
  lag = 0;
  private failing: number[] = [];

  /** failNext makes the next syncs fail, the i-th reporting it (and dropping) `turns[i]` turns after its call. */
  failNext(...turns: number[]): void {
    this.failing = turns;
  }

  override async doWriteAt(path: string, data: Uint8Array, position: number): Promise<void> {
    for (let i = 0; i < this.writeTurns; i++) await new Promise((r) => setImmediate(r));
    return super.doWriteAt(path, data, position);
  }

  override async doSync(path: string): Promise<void> {
    const turns = this.failing.shift();
    if (turns === undefined) {
      for (let i = 0; i < this.lag; i++) await new Promise((r) => setImmediate(r));
      return super.doSync(path);
    }
    for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
    const f = this.file(path);
    f.data = Buffer.from(f.synced);
    const e: NodeJS.ErrnoException = new Error(`EIO: fsync failed on ${path}`);
    e.code = 'EIO';
    throw e;
  }
}

describe('a sync of the log beside a failing fdatasync of a batch', () => {
  it('writes the unsynced batches again only once no batch fdatasync runs beside it (durability interval)', async () => {
    const vfs = new LateDrops();
    const { commit, log: w } = await openTestLog(vfs, { durability: 'interval', fsyncIntervalMs: 60000 });
    for (let i = 1; i <= 3; i++) await put(w, i);
    vfs.writeTurns = 3;
    // sync()'s fdatasync fails; a store attaching meanwhile writes a base frame (synced in any
    // mode) whose fdatasync fails later, while the log writes records 1..3 again after the first
    // failure: that error is about the pages written again.
    vfs.failNext(4, 12);
    const synced = commit.sync();
    await new Promise((r) => setImmediate(r));
    const attached = commit.attach(new StoreLog(commit, STORE + 1, 1, 1 << 20), 1).catch((e: unknown) => e);
    await synced;
    // sync() resolved: records 1..3 are durable, whatever a power cut does now.
    const { rec } = await recoverLog(vfs.crash());
    assert.equal(rec.nextSeqs.get(STORE), 4, 'records 1..3 survive the power cut');
    await attached;
  });

  it('refuses a batch settling after a sync of the log failed, until the batches are written again (durability fsync)', async () => {
    const vfs = new LateDrops();
    const { log: w, commit } = await openTestLog(vfs, { durability: 'fsync' });
    assert.equal(await put(w, 0), 1);
    vfs.writeTurns = 3;
    vfs.lag = 4;
    // sync()'s fdatasync fails 6 turns on; k1 is written meanwhile and its own fdatasync (which
    // sees the file 4 turns after it is called) returns 0 after that failure took k1's pages.
    vfs.failNext(6);
    const synced = commit.sync().catch((e: unknown) => e);
    await new Promise((r) => setImmediate(r));
    const k1 = await put(w, 1).then(
      (seq) => ({ seq }),
      (err: unknown) => ({ err }),
    );
    // At once: the power may go as soon as k1 is answered.
    const { records } = await recoverLog(vfs.crash());
    assert.deepEqual(
      records.map((r) => r[3]),
      'seq' in k1 ? ['k0', 'k1'] : ['k0'],
      'an acknowledged write survives the power cut',
    );
    assert.ok('err' in k1, 'k1, whose fdatasync returned after the failure, is refused');
    await synced;
  });
});
