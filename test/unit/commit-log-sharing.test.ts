/**
 * Stores sharing one commit log, as a worker's do (docs/commit-log-format.md): one fdatasync for
 * every store's writes of a turn, each store reading back only its own records (from memory and
 * from the segments), segments kept while any store (or a replica within the budget) needs them,
 * a previous layout's `wal/` migrated, and a store that moved to another worker's log keeping its
 * writes.
 */
import assert from 'node:assert/strict';
import { mkdirSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import { openLsmStores } from '../../src/storage/lsm-recovery.js';
import type { LsmStore } from '../../src/storage/lsm-store.js';
import { RealVfs } from '../../src/storage/real-vfs.js';
import {
  decodeRecord,
  encodeHeader,
  encodeRecord,
  recordSize,
  TYPE_PUT,
} from '../../src/storage/wal-format.js';
import { openTestGroup } from '../helpers/lsm.js';
import { tempDir } from '../helpers/temp-dir.js';

const b = (s: string): Buffer => Buffer.from(s);
const str = (v: Uint8Array | undefined): string | undefined =>
  v === undefined ? undefined : Buffer.from(v).toString();

/** keysOf decodes a readLog answer into [seq, key] pairs. */
function keysOf(records: Buffer): [number, string][] {
  const out: [number, string][] = [];
  for (let o = 0; o < records.length;) {
    const r = decodeRecord(records, o);
    assert.ok(typeof r !== 'string', typeof r === 'string' ? r : '');
    out.push([r.seq, r.key.toString()]);
    o += r.size;
  }
  return out;
}

/** readAll reads a store's whole log after `after` in pulls of `maxBytes`. */
function readAll(s: LsmStore, after: number, maxBytes: number): [number, string][] | 'gone' {
  const out: [number, string][] = [];
  for (let at = after; at < s.lastSeq();) {
    const r = s.replication.readLog(at, maxBytes);
    if (r === 'gone') return 'gone';
    out.push(...keysOf(r.records));
    assert.ok(r.lastSeq > at, 'every pull makes progress');
    at = r.lastSeq;
  }
  return out;
}

const dirsIn = (root: string, n: number): string[] =>
  Array.from({ length: n }, (_, i) => join(root, 'node_1', `shard-${i}`));

describe('commit log shared by several stores', () => {
  it('makes the writes of four stores in one turn durable with one fdatasync', async () => {
    const root = tempDir(after);
    const vfs = new FaultyVfs();
    const { log, stores } = await openTestGroup(join(root, 'log', 'w0'), dirsIn(root, 4), { vfs });
    try {
      const before = vfs.syncCount;
      const seqs = await Promise.all(
        stores.flatMap((s, i) => [0, 1, 2].map((k) => s.put(b(`k${k}`), b(`s${i}-${k}`)))),
      );
      assert.equal(vfs.syncCount - before, 1, 'one fdatasync for 12 writes to 4 stores');
      assert.deepEqual(
        seqs.map((r) => r.seq),
        [1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3],
        'each store keeps its own seqs',
      );
      for (const [i, s] of stores.entries()) assert.equal(str(s.get(b('k2'))), `s${i}-2`);
    } finally {
      for (const s of stores) await s.close();
      await log.close();
    }
  });

  it('serves each store only its own records, from memory and from segments, across restarts', async () => {
    const root = tempDir(after);
    const vfs = new FaultyVfs();
    const dirs = dirsIn(root, 3);
    const logDir = join(root, 'log', 'w0');
    // A small ring (older records come from the segments) and small segments (many of them).
    // A replica that still needs everything keeps the segments: a clean close flushes the memtable,
    // after which nothing else would (docs/commit-log-format.md, retention).
    const o = {
      vfs,
      ringBytes: 512,
      walSegmentBytes: 4096,
      memtableBytes: 1 << 20,
      walRetentionBytes: 1 << 30,
    };
    const pin = (stores: readonly LsmStore[]): void => {
      for (const s of stores) s.replication.setRetention(() => 0);
    };
    let g = await openTestGroup(logDir, dirs, o);
    pin(g.stores);
    for (let round = 0; round < 80; round++)
      await Promise.all(
        g.stores.flatMap((s, i) =>
          Array.from({ length: 1 + ((round + i) % 4) }, (_, k) => s.put(b(`s${i}-r${round}-${k}`), b('v'))),
        ),
      );
    const expected = g.stores.map((s, i) => {
      const all = readAll(s, 0, 300);
      assert.ok(all !== 'gone');
      assert.deepEqual(
        all.map(([seq]) => seq),
        Array.from({ length: s.lastSeq() }, (_, k) => k + 1),
        `store ${i}: every seq once, in order`,
      );
      for (const [, key] of all) assert.ok(key.startsWith(`s${i}-`), `store ${i} got ${key}`);
      return all;
    });
    assert.ok(vfs.list(logDir).length > 3, 'the records span several segments');
    for (const s of g.stores) await s.close();
    await g.log.close();
    g = await openTestGroup(logDir, dirs, o);
    pin(g.stores);
    try {
      for (const [i, s] of g.stores.entries()) {
        assert.deepEqual(readAll(s, 0, 1 << 20), expected[i], `store ${i} after a restart`);
        assert.deepEqual(readAll(s, 17, 100), expected[i]!.slice(17), `store ${i} from seq 18`);
        assert.equal(str(s.get(b(`s${i}-r79-0`))), 'v', 'replayed into the right store');
      }
    } finally {
      for (const s of g.stores) await s.close();
      await g.log.close();
    }
  });

  it('deletes a segment only once no store needs it for recovery, and keeps what a replica needs within the budget', async () => {
    const root = tempDir(after);
    const vfs = new FaultyVfs();
    const logDir = join(root, 'log', 'w0');
    const o = {
      vfs,
      walSegmentBytes: 2048,
      memtableBytes: 1 << 20,
      maxRuns: 100,
      walRetentionBytes: 1 << 20,
    };
    const { log, stores } = await openTestGroup(logDir, dirsIn(root, 2), o);
    const [busy, quiet] = stores as [LsmStore, LsmStore];
    try {
      await quiet.put(b('q'), b('kept'));
      for (let i = 0; i < 200; i++) await busy.put(b(`k${i}`), b('x'.repeat(40)));
      const segments = vfs.list(logDir).length;
      assert.ok(segments > 4);
      await busy.flush();
      assert.equal(
        vfs.list(logDir).length,
        segments,
        "the quiet store's unflushed write pins the oldest segment",
      );
      quiet.replication.setRetention(() => undefined);
      await quiet.flush();
      const left = vfs.list(logDir).filter((n) => n.endsWith('.log')).length;
      assert.ok(left < 2, `flushed everywhere: ${left} segments left`);
      for (let i = 0; i < 200; i++) await busy.put(b(`m${i}`), b('x'.repeat(40)));
      busy.replication.setRetention(() => 1); // a replica that has nothing yet
      await busy.flush();
      const kept = vfs.list(logDir).length;
      assert.ok(kept > 4, `a replica behind keeps the segments within wal_retention_bytes (${kept})`);
      assert.ok(
        busy.replication.oldestLogSeq() <= 201,
        'the replica can read from seq 1 of the kept segments on',
      );
      const tail = readAll(busy, 200, 1 << 20);
      assert.deepEqual(tail === 'gone' ? tail : tail[0], [201, 'm0']);
    } finally {
      for (const s of stores) await s.close();
      await log.close();
    }
  });

  it("migrates a store's own wal/ (previous layout) into the shared log, then removes it", async () => {
    const root = tempDir(after);
    const [dir] = dirsIn(root, 1) as [string];
    const walDir = join(dir, 'wal');
    mkdirSync(walDir, { recursive: true });
    const records = [1, 2, 3, 4, 5].map((seq) => {
      const r = Buffer.alloc(recordSize(2, 2));
      encodeRecord(r, 0, TYPE_PUT, seq, b(`k${seq % 3}`), b(`v${seq}`));
      return r;
    });
    writeFileSync(join(walDir, '00000001.log'), Buffer.concat([encodeHeader(1, 0, 1), ...records]));
    const logDir = join(root, 'log', 'w0');
    let g = await openTestGroup(logDir, [dir]);
    let s = g.stores[0]!;
    assert.equal(existsSync(walDir), false, 'the old wal/ is gone');
    assert.equal(s.lastSeq(), 5);
    assert.equal(str(s.get(b('k2'))), 'v5');
    assert.equal(str(s.get(b('k0'))), 'v3');
    assert.equal((await s.put(b('new'), b('6'))).seq, 6);
    await s.close();
    await g.log.close();
    g = await openTestGroup(logDir, [dir]);
    s = g.stores[0]!;
    try {
      assert.equal(s.lastSeq(), 6, 'the migrated records are in the shared log now');
      assert.equal(str(s.get(b('k1'))), 'v4');
      assert.deepEqual(readAll(s, 0, 1 << 20), [
        [1, 'k1'],
        [2, 'k2'],
        [3, 'k0'],
        [4, 'k1'],
        [5, 'k2'],
        [6, 'new'],
      ]);
    } finally {
      await s.close();
      await g.log.close();
    }
  });

  it("keeps the writes of a store that moved to another worker's log, read from the log it left", async () => {
    const root = tempDir(after);
    const dirs = dirsIn(root, 2);
    const vfs = new RealVfs();
    const a = await openTestGroup(join(root, 'log', 'w0'), dirs, { vfs });
    await a.stores[0]!.put(b('x'), b('1'));
    await a.stores[1]!.put(b('y'), b('2'));
    await a.stores[1]!.put(b('y'), b('3'));
    // Killed: nothing flushed, both stores' writes are only in log w0. Restarted with two workers:
    for (const s of a.stores) await s.close();
    await a.log.close();
    const w0 = await openLsmStores({ vfs, dir: join(root, 'log', 'w0') }, []).catch((e: unknown) => e);
    assert.ok(w0 instanceof Error, 'a log with no store is not opened');
    const w1 = await openTestGroup(join(root, 'log', 'w1'), [dirs[1]!], { vfs });
    try {
      const s = w1.stores[0]!;
      assert.equal(str(s.get(b('y'))), '3');
      assert.equal(s.lastSeq(), 2);
      assert.equal((await s.put(b('y'), b('4'))).seq, 3);
    } finally {
      for (const s of w1.stores) await s.close();
      await w1.log.close();
    }
    const again = await openTestGroup(join(root, 'log', 'w1'), [dirs[1]!], { vfs });
    try {
      assert.equal(str(again.stores[0]!.get(b('y'))), '4', 'the store now lives in log w1');
      assert.equal(again.stores[0]!.lastSeq(), 3);
    } finally {
      for (const s of again.stores) await s.close();
      await again.log.close();
    }
  });
});
