/**
 * A replica whose leader is on the same commit log (the default layout: both on one worker) is fed
 * in its leader's batches (LocalSource.follow, StoreLog.mirrorTo; docs/commit-log-format.md,
 * "Mirrored replicas"): its records share the leader's append and fdatasync, its ack is published
 * as the batch settles, and anything the feed cannot take (a failed batch, a cut leader) sends the
 * replica back to pulling from its ack, converging on the leader.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import { openTestGroup } from '../helpers/lsm.js';
import { dump, ReplicaPair } from '../helpers/replica-pair.js';
import { tempDir } from '../helpers/temp-dir.js';

const b = (s: string): Buffer => Buffer.from(s);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** fedPair opens a shared-log pair on `vfs`, writes one record and waits until the replica holds it and follows. */
async function fedPair(vfs: FaultyVfs, pullWaitMs = 1000): Promise<ReplicaPair> {
  const pair = await ReplicaPair.open(tempDir(after), { vfs, sharedLog: true, pullWaitMs });
  await pair.leader.put(b('first'), b('1'));
  await pair.caughtUp();
  // The follower has published its ack and is waiting on the leader (fed, or in a long poll).
  await sleep(30);
  return pair;
}

describe('a replica on its leader commit log', () => {
  it('is made durable by the leader own batch: one fdatasync for a turn of writes, leader and replica', async () => {
    const vfs = new FaultyVfs();
    const pair = await fedPair(vfs);
    try {
      const syncs = vfs.syncCount;
      const writes = await Promise.all([0, 1, 2].map((i) => pair.leader.put(b(`k${i}`), b(`v${i}`))));
      const last = Math.max(...writes.map((w) => w.seq));
      await pair.caughtUp();
      assert.equal(vfs.syncCount - syncs, 1, 'no second batch (and fdatasync) for the replica');
      const p = pair.position;
      assert.ok(p !== undefined);
      assert.equal(p.ack, last, 'the replica published its ack');
      assert.equal(p.state, 'streaming');
      assert.deepEqual(dump(pair.replica), dump(pair.leader));
    } finally {
      await pair.close();
    }
  });

  it('holds a write once the leader acknowledges it (same batch), without a pull', async () => {
    const vfs = new FaultyVfs();
    const pair = await fedPair(vfs);
    try {
      for (let i = 0; i < 20; i++) {
        const { seq } = await pair.leader.put(b(`k${i % 3}`), b(`v${i}`));
        assert.equal(pair.replica.lastSeq(), seq, `write ${i}: the replica holds it as the leader answers`);
        assert.equal(pair.position?.ack, seq);
        assert.equal(Buffer.from(pair.replica.get(b(`k${i % 3}`)) ?? []).toString(), `v${i}`);
      }
    } finally {
      await pair.close();
    }
  });

  it('keeps reporting its leader contact while no write comes', async () => {
    const pair = await fedPair(new FaultyVfs(), 20);
    try {
      // Beats every 20 ms; the bounds leave room for a loaded machine's timer delays.
      await sleep(1500);
      const p = pair.position;
      assert.ok(p !== undefined);
      assert.equal(p.state, 'streaming');
      assert.equal(p.ack, pair.leader.lastSeq());
      assert.ok(Date.now() - p.contactAt < 750, `last contact ${Date.now() - p.contactAt} ms ago`);
      assert.ok(Date.now() - p.caughtUpAt < 750, `caught up ${Date.now() - p.caughtUpAt} ms ago`);
    } finally {
      await pair.close();
    }
  });

  it('stops being fed when a batch fails, then pulls back to its leader', async () => {
    const vfs = new FaultyVfs();
    const pair = await fedPair(vfs);
    try {
      const before = pair.replica.lastSeq();
      vfs.failSyncs(1);
      await assert.rejects(pair.leader.put(b('lost'), b('x')), { code: 'DISK_FULL' });
      assert.equal(pair.replica.lastSeq(), before, 'the refused write is on neither store');
      await sleep(600); // RETRY_MS: writes are refused for a while after a failed batch
      for (let i = 0; i < 10; i++) await pair.leader.put(b(`after${i}`), b(`${i}`));
      await pair.caughtUp();
      assert.deepEqual(dump(pair.replica), dump(pair.leader));
      assert.equal(pair.replica.get(b('lost')), undefined);
    } finally {
      await pair.close();
    }
  });

  it('keeps every write its published ack covers through a power loss', async () => {
    const vfs = new FaultyVfs();
    const root = tempDir(after);
    const pair = await ReplicaPair.open(root, { vfs, sharedLog: true });
    let acked = 0;
    try {
      await pair.leader.put(b('first'), b('1'));
      await pair.caughtUp();
      await sleep(30);
      for (let i = 0; i < 50; i++) {
        await pair.leader.put(b(`k${i}`), b(`v${i}`));
        acked = pair.position?.ack ?? 0;
      }
      // The next batch is in flight when the power goes.
      void pair.leader.put(b('in-flight'), b('x')).catch(() => undefined);
    } finally {
      const rebooted = vfs.crash(true);
      await pair.close().catch(() => undefined);
      const g = await openTestGroup(join(root, 'log'), [join(root, 'leader'), join(root, 'replica')], {
        vfs: rebooted,
      });
      try {
        const replica = g.stores[1]!;
        assert.equal(acked, 51, 'the fed replica acknowledged each write as its leader answered it');
        assert.ok(replica.lastSeq() >= acked, `replica at ${replica.lastSeq()} after acking ${acked}`);
        // Write k<i> has seq i + 2 (seq 1 is "first").
        for (let i = 0; i + 2 <= acked; i++)
          assert.equal(Buffer.from(replica.get(b(`k${i}`)) ?? []).toString(), `v${i}`);
      } finally {
        for (const s of g.stores) await s.close();
        await g.log.close();
      }
    }
  });
});
