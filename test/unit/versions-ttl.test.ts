/**
 * Versions and expiries through the storage formats (run version 4, LMDB value layout 2 and the
 * upgrade of layout 1, WAL TTL and expire records), compaction keeping expired values until their
 * expire record, and the expiry reaper's order and bound.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import { openKvEnv } from '../../src/storage/lmdb-env.js';
import { LmdbLevel } from '../../src/storage/lmdb-level.js';
import { LMDB_VALUE_LAYOUT, META_VALUE_LAYOUT } from '../../src/storage/lmdb-value-format.js';
import type { Versioned } from '../../src/storage/merge-iterator.js';
import { SST_VERSION } from '../../src/storage/sstable-format.js';
import { BlockCache, RunReader } from '../../src/storage/sstable-reader.js';
import { writeRun } from '../../src/storage/sstable-writer.js';
import {
  decodeRecord,
  encodeRecord,
  putValueOf,
  recordSize,
  TYPE_EXPIRE,
  TYPE_PUT_TTL,
} from '../../src/storage/wal-format.js';
import { type Expiring, ExpiryReaper, REAP_PER_TURN } from '../../src/worker/expiry-reaper.js';
import { openTestLsm } from '../helpers/lsm.js';
import { tempDir } from '../helpers/temp-dir.js';

const b = (s: string): Buffer => Buffer.from(s);

describe('expiries in the formats', () => {
  it('round-trips seqs and expiries through a version 4 run, tombstones and plain values alike', async () => {
    const vfs = new FaultyVfs();
    vfs.mkdirp('/runs');
    const entries: [string, Versioned][] = [
      ['a', { seq: 3, value: b('plain'), expiresAtMs: 0 }],
      ['b', { seq: 4, value: b('expiring'), expiresAtMs: 1_700_000_000_123 }],
      ['c', { seq: 5, value: null }],
      ['d', { seq: 6, value: Buffer.alloc(0), expiresAtMs: 42 }],
    ];
    const meta = await writeRun(vfs, '/runs', 1, entries, entries.length, 3, 6);
    const r = new RunReader(vfs, meta.path, 1, new BlockCache(1 << 20));
    assert.equal(r.footer.maxSeq, 6);
    const norm = (v: Versioned | undefined) =>
      v && { seq: v.seq, value: v.value?.toString() ?? null, expiresAtMs: v.expiresAtMs ?? 0 };
    for (const [k, v] of entries) assert.deepEqual(norm(r.get(k)), norm(v), k);
    assert.deepEqual(
      [...r.entries()].map(([k, v]) => [k, norm(v)]),
      entries.map(([k, v]) => [k, norm(v)]),
    );
    assert.equal(SST_VERSION, 4);
    r.close();
  });

  it('carries the expiry in a TTL put record and strips it from the value', () => {
    const buf = Buffer.alloc(recordSize(1, 1, TYPE_PUT_TTL) + recordSize(1, 0));
    const n = encodeRecord(buf, 0, TYPE_PUT_TTL, 7, b('k'), b('v'), 1_800_000_000_000);
    encodeRecord(buf, n, TYPE_EXPIRE, 8, b('k'), undefined);
    const put = decodeRecord(buf, 0);
    const expire = decodeRecord(buf, n);
    assert.ok(typeof put !== 'string' && typeof expire !== 'string');
    assert.equal(put.expiresAtMs, 1_800_000_000_000);
    assert.equal(putValueOf(put)?.toString(), 'v');
    assert.equal(expire.type, TYPE_EXPIRE);
    assert.equal(putValueOf(expire), null, 'an expire applies as a delete');
    assert.equal(expire.expiresAtMs, 0);
  });

  it('upgrades an LMDB level of layout 1 (bare values) in place: same bytes, seq 0, no expiry', async () => {
    const dir = tempDir(after);
    const env = openKvEnv(join(dir, 'lmdb'), { noSync: false, overlappingSync: false });
    await env.data.put(b('x'), b('old-x'));
    await env.data.put(b('y'), Buffer.alloc(0));
    await env.root.close();
    const level = new LmdbLevel(dir);
    try {
      assert.deepEqual(level.get(b('x')), { seq: 0, expiresAtMs: 0, value: b('old-x') });
      assert.deepEqual(
        [...level.entries(Buffer.alloc(0), undefined, false)].map((e) => [
          e.key.toString(),
          e.version.value.length,
        ]),
        [
          ['x', 5],
          ['y', 0],
        ],
      );
    } finally {
      await level.close();
    }
    const reopened = openKvEnv(join(dir, 'lmdb'), { noSync: false, overlappingSync: false });
    assert.equal(reopened.meta.get(META_VALUE_LAYOUT), LMDB_VALUE_LAYOUT);
    await reopened.root.close();
    const again = new LmdbLevel(dir);
    assert.deepEqual(again.get(b('x'))?.value, b('old-x'), 'a second open does not rewrite again');
    await again.close();
  });
});

describe('expiry in the LSM store', () => {
  it('hides an expired value at every level; compaction keeps it until its expire record, then drops it', async () => {
    const time = { now: 1000 };
    const s = await openTestLsm(tempDir(after), { clock: () => time.now, maxRuns: 1 });
    try {
      await s.put(b('gone'), b('soon'), 1100);
      await s.put(b('stays'), b('v'), 5000);
      await s.put(b('plain'), b('p'));
      assert.equal(s.read(b('gone'))?.expiresAtMs, 1100);
      time.now = 1100;
      assert.equal(s.get(b('gone')), undefined, 'expired in the memtable');
      assert.equal(s.read(b('gone'), 0)?.seq, 1, 'still there for the reaper');
      await s.flush();
      assert.equal(s.get(b('gone')), undefined, 'expired in a run');
      await s.put(b('other'), b('o'));
      await s.flush();
      await s.idle();
      assert.equal(s.stats().runs, 0, 'compacted');
      assert.equal(s.read(b('gone'), 0)?.seq, 1, 'compaction kept the expired value for the reaper');
      assert.equal(s.get(b('gone')), undefined, 'still hidden');
      await s.expire(b('gone'));
      await s.flush();
      await s.put(b('other'), b('o'));
      await s.flush();
      await s.idle();
      assert.equal(s.stats().runs, 0, 'compacted again');
      assert.equal(s.read(b('gone'), 0), undefined, 'its expire record dropped it');
      assert.deepEqual(s.read(b('stays')), { value: b('v'), seq: 2, expiresAtMs: 5000 });
      assert.deepEqual(
        s.scan(Buffer.alloc(0), undefined, 10).map((e) => [e.key.toString(), e.seq]),
        [
          ['other', 6],
          ['plain', 3],
          ['stays', 2],
        ],
      );
    } finally {
      await s.close();
    }
  });
});

describe('ExpiryReaper', () => {
  const entry = (key: string, expiresAtMs: number): Expiring => ({
    store: 0,
    key: b(key),
    seq: 1,
    expiresAtMs,
  });

  it('reaps due entries in expiry order and leaves later ones for their time', async () => {
    const reaped: string[] = [];
    const now = Date.now();
    const r = new ExpiryReaper((e) => reaped.push(e.key.toString()));
    after(() => {
      r.close();
    });
    r.add(entry('c', now + 30));
    r.add(entry('a', now - 5));
    r.add(entry('later', now + 60_000));
    r.add(entry('b', now + 10));
    const deadline = Date.now() + 10_000;
    while (reaped.length < 3 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 5));
    assert.deepEqual(reaped, ['a', 'b', 'c']);
    assert.equal(r.size, 1);
  });

  it('reaps at most REAP_PER_TURN entries per event-loop turn', async () => {
    let reaped = 0;
    let firstTurn = 0;
    const r = new ExpiryReaper(
      () => {
        // A turn's reaps run in one synchronous loop: a microtask queued by the first one runs
        // right after that loop, whatever the machine's load does to timers.
        if (reaped++ === 0)
          queueMicrotask(() => {
            firstTurn = reaped;
          });
      },
      () => 1000,
    );
    after(() => {
      r.close();
    });
    for (let i = 0; i < REAP_PER_TURN * 2 + 5; i++) r.add(entry(`k${i}`, 999));
    while (firstTurn === 0) await new Promise((res) => setTimeout(res, 1));
    assert.equal(firstTurn, REAP_PER_TURN, 'the first turn stops at the bound');
    const deadline = Date.now() + 10_000;
    while (r.size > 0 && Date.now() < deadline) await new Promise((res) => setImmediate(res));
    assert.equal(reaped, REAP_PER_TURN * 2 + 5);
  });
});
