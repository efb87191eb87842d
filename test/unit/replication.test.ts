import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { LeaderState } from '../../src/replication/leader-state.js';
import {
  encodeSnapshotEntries,
  encodeSnapshotExactSeq,
  encodeSnapshotHeader,
  SnapshotDecoder,
} from '../../src/replication/snapshot-format.js';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import { decodeRecord, TYPE_PUT } from '../../src/storage/wal-format.js';
import { openTestLsm } from '../helpers/lsm.js';
import { seededRandom, testSeed } from '../helpers/random.js';
import { dump, ReplicaPair } from '../helpers/replica-pair.js';
import { tempDir } from '../helpers/temp-dir.js';
import { sealSnapshot } from '../helpers/snapshot-stream.js';

const b = (s: string): Buffer => Buffer.from(s);

function seqsOf(records: Buffer): number[] {
  const out: number[] = [];
  for (let o = 0; o < records.length;) {
    const r = decodeRecord(records, o);
    if (typeof r === 'string') throw new Error(r);
    out.push(r.seq);
    o += r.size;
  }
  return out;
}

describe('replication log reading', () => {
  it('returns the records after a seq from memory, in order, bounded by max bytes', async () => {
    const s = await openTestLsm(tempDir(after));
    for (let i = 0; i < 100; i++) await s.put(b(`k${i}`), b(`v${i}`));
    const all = s.replication.readLog(0, 1 << 20);
    assert.ok(all !== 'gone');
    assert.deepEqual(
      seqsOf(all.records),
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
    const some = s.replication.readLog(40, 200);
    assert.ok(some !== 'gone');
    assert.equal(seqsOf(some.records)[0], 41);
    assert.ok(seqsOf(some.records).length < 60, 'max_bytes bounds the batch');
    const none = s.replication.readLog(100, 1000);
    assert.ok(none !== 'gone');
    assert.equal(none.records.length, 0);
    await s.close();
  });

  it('reads older records from WAL segments after a restart, and says gone once they are deleted', async () => {
    const dir = tempDir(after);
    const vfs = new FaultyVfs();
    // A replica that still needs seq 1 keeps the log: a clean close flushes the memtable, after
    // which nothing else would keep the segments.
    const o = { vfs, walSegmentBytes: 65536, memtableBytes: 1 << 20, walRetentionBytes: 1 << 30 };
    let s = await openTestLsm(dir, o);
    s.replication.setRetention(() => 0);
    for (let i = 0; i < 300; i++) await s.put(b(`k${i}`), Buffer.alloc(500, i));
    await s.close();
    s = await openTestLsm(dir, o);
    s.replication.setRetention(() => 0);
    const r = s.replication.readLog(10, 1 << 20);
    assert.ok(r !== 'gone');
    assert.equal(seqsOf(r.records)[0], 11, 'records come back from disk after a restart');
    await s.close();
    // A store that flushes and keeps no WAL for replicas deletes old segments: seq 1 is gone.
    const d2 = tempDir(after);
    const t = await openTestLsm(d2, { walSegmentBytes: 65536, memtableBytes: 65536, ringBytes: 4096 });
    for (let i = 0; i < 600; i++) await t.put(b(`k${i}`), Buffer.alloc(500, 1));
    await t.idle();
    assert.equal(t.replication.readLog(0, 1000), 'gone');
    await t.close();
  });
});

describe('snapshot stream format', () => {
  it("carries each entry's seq and expiry (past 2^32), and still reads a version 2 stream", () => {
    const entries = [
      { key: b('a'), value: b('1'), seq: 2 ** 40 + 3, expiresAtMs: 1_900_000_000_123 },
      { key: b('b'), value: b(''), seq: 5, expiresAtMs: 0 },
    ];
    const d = new SnapshotDecoder();
    const got = d.push(
      sealSnapshot([
        encodeSnapshotHeader(9),
        encodeSnapshotEntries(entries, true),
        encodeSnapshotExactSeq(11),
      ]),
    );
    assert.equal(d.version, 4);
    assert.deepEqual(
      got.map((e) => ({ ...e, key: Buffer.from(e.key), value: Buffer.from(e.value) })),
      entries,
    );
    // Version 2, as backups made before versions and TTLs hold it: keyLen valueLen key value.
    const v2 = encodeSnapshotHeader(9);
    v2[4] = 2;
    const entry = Buffer.alloc(6 + 2);
    entry.writeUInt16LE(1, 0);
    entry.writeUInt32LE(1, 2);
    entry.write('kv', 6);
    const old = new SnapshotDecoder();
    const items = old.push(Buffer.concat([v2, entry, Buffer.alloc(2), encodeSnapshotExactSeq(9)]));
    assert.deepEqual(
      items.map((e) => ({ ...e, key: e.key.toString(), value: e.value.toString() })),
      [{ key: 'k', value: 'v' }],
    );
    assert.ok(old.done);
    const v1 = encodeSnapshotHeader(9);
    v1[4] = 1;
    assert.throws(() => new SnapshotDecoder().push(v1), /version 1: this build reads versions 2, 3 and 4/);
  });

  it('round-trips entries and the exact seq fed in arbitrary pieces', () => {
    const entries = Array.from({ length: 300 }, (_, i) => ({
      key: b(`key${i}`),
      value: Buffer.alloc(i % 50, i),
    }));
    const stream = sealSnapshot([
      encodeSnapshotHeader(2 ** 40 + 7),
      encodeSnapshotEntries(entries.slice(0, 100), false),
      encodeSnapshotEntries(entries.slice(100), true),
      encodeSnapshotExactSeq(2 ** 40 + 99),
    ]);
    // Piece sizes from a seed, so a failing split can be replayed (DISTKV_SEED).
    const seed = testSeed();
    const rand = seededRandom(seed);
    const d = new SnapshotDecoder();
    const got: { key: Buffer; value: Buffer }[] = [];
    for (let o = 0; o < stream.length;) {
      const n = 1 + Math.floor(rand() * 97);
      got.push(
        ...d
          .push(stream.subarray(o, o + n))
          .map((e) => ({ key: Buffer.from(e.key), value: Buffer.from(e.value) })),
      );
      o += n;
    }
    assert.equal(d.seq, 2 ** 40 + 7, `seed ${seed}`);
    assert.ok(d.done, `seed ${seed}`);
    assert.equal(d.exactSeq, 2 ** 40 + 99, `seed ${seed}`);
    assert.deepEqual(got, entries, `seed ${seed}`);
  });
});

describe('leader state', () => {
  it('answers w=N once N replicas acked, and with the count at the timeout', async () => {
    let last = 12;
    const l = new LeaderState(() => last);
    l.ack('r1', 5);
    assert.equal(await l.waitForAcks(5, 1, 100), 1);
    const waiting = l.waitForAcks(10, 2, 5000);
    l.ack('r1', 10);
    l.ack('r2', 12);
    assert.equal(await waiting, 2);
    last = 20;
    const t0 = Date.now();
    assert.equal(await l.waitForAcks(20, 1, 50), 0);
    assert.ok(Date.now() - t0 < 1000);
    assert.equal(l.retainFrom(), 11, 'the slowest replica needs seq 11 onwards');
  });

  it("counts no ack beyond its own last seq, and an ack is the replica's latest word", async () => {
    const l = new LeaderState(() => 7);
    l.ack('forger', 999999999);
    assert.equal(l.ackedAtLeast(7), 0, 'an ack past the leader is another history');
    assert.equal(await l.waitForAcks(7, 1, 20), 0);
    assert.deepEqual(
      l.replicas().map((r) => r.replica),
      [],
      'nothing is recorded for it',
    );
    l.ack('r1', 7);
    assert.equal(l.ackedAtLeast(7), 1);
    l.ack('r1', 0);
    assert.equal(l.ackedAtLeast(7), 0, 'a replica wiped back to zero no longer counts for seq 7');
    assert.equal(l.ackedAtLeast(8), 0, 'nothing acks a seq the leader has not written');
  });
});

describe('follower', () => {
  it('makes the replica equal to its leader, deletes included, across a pause', async () => {
    const p = await ReplicaPair.open(tempDir(after));
    try {
      for (let i = 0; i < 500; i++) await p.leader.put(b(`k${i % 120}`), b(`v${i}`));
      await p.pause();
      for (let i = 0; i < 60; i++) await p.leader.delete(b(`k${i}`));
      p.resume();
      await p.caughtUp();
      assert.deepEqual(dump(p.replica), dump(p.leader));
      assert.equal(p.replica.lastSeq(), p.leader.lastSeq(), 'the replica carries the leader seqs');
      const first = p.replica.replication.readLog(0, 100);
      assert.ok(first !== 'gone', 'the replica keeps its own log, in the same framing');
      const rec = decodeRecord(first.records, 0);
      assert.ok(typeof rec !== 'string');
      assert.equal(rec.type, TYPE_PUT);
      assert.equal(rec.seq, 1);
    } finally {
      await p.close();
    }
  });
});
