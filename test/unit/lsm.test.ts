import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { CorruptionError } from '../../src/errors.js';
import { KeyBloom } from '../../src/storage/bloom.js';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import { Memtable } from '../../src/storage/memtable.js';
import { BLOOM_FP_RATE } from '../../src/storage/sstable-format.js';
import { BlockCache, RunReader } from '../../src/storage/sstable-reader.js';
import { writeRun } from '../../src/storage/sstable-writer.js';
import { openTestLsm } from '../helpers/lsm.js';
import { tempDir } from '../helpers/temp-dir.js';

const b = (s: string): Buffer => Buffer.from(s);
const str = (v: Uint8Array | undefined): string | undefined =>
  v === undefined ? undefined : Buffer.from(v).toString();

describe('memtable', () => {
  it('iterates keys in byte order, with overwrites in place and tombstones kept', () => {
    const m = new Memtable();
    m.apply('b', 1, b('1'));
    m.apply('a', 2, b('2'));
    m.apply('\u00e9', 3, b('3'));
    m.apply('b', 4, null);
    assert.deepEqual(
      [...m.entries()].map(([k, e]) => [k, e.seq, e.value?.toString() ?? null]),
      [
        ['a', 2, '2'],
        ['b', 4, null],
        ['\u00e9', 3, '3'],
      ],
    );
    assert.deepEqual(
      [...m.entries('b')].map(([k]) => k),
      ['b', '\u00e9'],
    );
    assert.equal(m.minSeq, 1);
    assert.equal(m.maxSeq, 4);
  });

  it('finds keys written as bytes by their latin1 strings, across table growth, with any byte values', () => {
    const m = new Memtable();
    const model = new Map<string, { seq: number; value: string | null }>();
    let n = 7;
    const rand = (): number => (n = (n * 1103515245 + 12345) & 0x7fffffff);
    const big = Buffer.alloc(300 * 1024, 0x42);
    for (let seq = 1; seq <= 6000; seq++) {
      const key = Buffer.from(Array.from({ length: rand() % 6 }, () => rand() % 256));
      const k = key.toString('latin1');
      const kind = rand() % 20;
      const value = kind === 0 ? null : kind === 1 ? big : Buffer.from(`v${seq}`);
      // Half the writes come as a key and value inside a larger batch, as a replica applies them.
      if (seq % 2 === 0 && value !== null) {
        const batch = Buffer.concat([Buffer.from('xx'), key, value]);
        m.applyFrom(batch, 2, 2 + key.length, seq, batch, 2 + key.length, batch.length, 0);
      } else m.apply(key, seq, value);
      model.set(k, { seq, value: value === null ? null : value.toString('latin1') });
    }
    assert.equal(m.size, model.size);
    for (const [k, want] of model) {
      const got = m.get(k);
      assert.equal(got?.seq, want.seq, `seq of ${JSON.stringify(k)}`);
      assert.equal(got.value === null ? null : got.value.toString('latin1'), want.value);
    }
    assert.equal(m.get('absent key'), undefined);
    assert.deepEqual(
      [...m.entries()].map(([k]) => k),
      [...model.keys()].sort(),
    );
  });

  it('keeps key order across ordered reads interleaved with new keys and overwrites', () => {
    const m = new Memtable();
    const model = new Map<string, number>();
    let seq = 0;
    const put = (k: string): void => {
      m.apply(k, ++seq, b(k));
      model.set(k, seq);
    };
    const expectFrom = (from: string | undefined): void => {
      const want = [...model.keys()]
        .filter((k) => from === undefined || k >= from)
        .sort()
        .map((k) => [k, model.get(k)]);
      assert.deepEqual(
        [...m.entries(from)].map(([k, e]) => [k, e.seq]),
        want,
      );
    };
    for (let i = 0; i < 300; i++) put(`k${(i * 7919) % 1000}`);
    expectFrom(undefined);
    expectFrom('k5');
    put('k0'); // an overwrite: the order already read stays valid
    expectFrom('k0');
    for (let i = 0; i < 300; i++) {
      put(`k${(i * 104729) % 1500}`);
      if (i % 50 === 0) expectFrom(`k${i}`);
    }
    expectFrom(undefined);
    expectFrom('\u00ff');
  });
});

describe('SSTable runs', () => {
  it('finds every key written, misses absent ones, and iterates from any key', async () => {
    const vfs = new FaultyVfs();
    vfs.mkdirp('/runs');
    const m = new Memtable();
    for (let i = 0; i < 10000; i++)
      m.apply(`key${String(i).padStart(5, '0')}`, i + 1, i % 10 === 0 ? null : b(`value-${i}`));
    const meta = await writeRun(vfs, '/runs', 1, m.entries(), m.size, m.minSeq, m.maxSeq);
    assert.equal(meta.entries, 10000);
    const r = new RunReader(vfs, meta.path, 1, new BlockCache(1 << 20));
    assert.equal(r.footer.maxSeq, 10000);
    for (const i of [1, 2, 4095, 9999])
      assert.equal(r.get(`key${String(i).padStart(5, '0')}`)?.value?.toString(), `value-${i}`);
    assert.equal(r.get('key00010')?.value, null, 'a tombstone is found as null');
    assert.equal(r.get('key99999'), undefined);
    assert.equal(r.get('aaa'), undefined);
    const from = [...r.entries('key09997')].map(([k]) => k);
    assert.deepEqual(from, ['key09997', 'key09998', 'key09999']);
  });

  it('refuses a run with a damaged footer or block, naming the file and offset', async () => {
    const vfs = new FaultyVfs();
    vfs.mkdirp('/runs');
    const m = new Memtable();
    for (let i = 0; i < 1000; i++) m.apply(`k${i}`, i + 1, b('v'.repeat(50)));
    const meta = await writeRun(vfs, '/runs', 1, m.entries(), m.size, 1, 1000);
    vfs.corrupt(meta.path, meta.bytes - 10);
    assert.throws(
      () => new RunReader(vfs, meta.path, 1, new BlockCache(1 << 20)),
      (err: unknown) =>
        err instanceof CorruptionError &&
        /footer checksum/.test(err.message) &&
        err.offset === meta.bytes - 72,
    );
    vfs.corrupt(meta.path, meta.bytes - 10);
    vfs.corrupt(meta.path, 100);
    const r = new RunReader(vfs, meta.path, 1, new BlockCache(1 << 20));
    assert.throws(
      () => r.get('k0'),
      (err: unknown) => err instanceof CorruptionError && err.offset === 0,
    );
  });

  it('keeps the bloom false-positive rate within 2x of the configured rate over 100k absent keys', () => {
    const bloom = KeyBloom.create(100000, BLOOM_FP_RATE);
    for (let i = 0; i < 100000; i++) bloom.add(`present:${i}`);
    const decoded = KeyBloom.decode(bloom.encode());
    let fp = 0;
    for (let i = 0; i < 100000; i++) if (decoded.mayHave(`absent:${i}`)) fp++;
    for (let i = 0; i < 1000; i++) assert.ok(decoded.mayHave(`present:${i}`), 'no false negatives');
    const rate = fp / 100000;
    assert.ok(rate <= 2 * BLOOM_FP_RATE, `false-positive rate ${rate}`);
  });
});

describe('LSM store', () => {
  it('compacts runs into LMDB newest-wins, applying tombstones, and records applied_seq', async () => {
    const dir = tempDir(after);
    const s = await openTestLsm(dir, { memtableBytes: 2048, maxRuns: 2 });
    for (let round = 0; round < 6; round++) {
      for (let i = 0; i < 40; i++) await s.put(b(`k${i}`), b(`v${round}-${i}`));
      if (round === 4) for (let i = 0; i < 10; i++) await s.delete(b(`k${i}`));
      await s.idle();
    }
    const st = s.stats();
    assert.ok(Number(st.compactions) >= 1, `compactions: ${st.compactions}`);
    assert.ok(Number(st.appliedSeq) > 0);
    assert.ok(Number(st.runs) <= 3);
    for (let i = 0; i < 40; i++)
      assert.equal(str(s.get(b(`k${i}`))), `v5-${i}`, `k${i} has its newest value`);
    await s.close();
    const again = await openTestLsm(dir, { memtableBytes: 2048, maxRuns: 2 });
    for (let i = 0; i < 40; i++) assert.equal(str(again.get(b(`k${i}`))), `v5-${i}`);
    await again.close();
  });

  it('hides deleted keys from reads and scans once their tombstone is compacted', async () => {
    const dir = tempDir(after);
    const s = await openTestLsm(dir, { memtableBytes: 2048, maxRuns: 1 });
    for (let i = 0; i < 30; i++) await s.put(b(`d${String(i).padStart(2, '0')}`), b('x'.repeat(40)));
    await s.idle();
    for (let i = 0; i < 30; i += 2) await s.delete(b(`d${String(i).padStart(2, '0')}`));
    for (let i = 0; i < 60; i++) await s.put(b(`filler${i}`), b('y'.repeat(40)));
    await s.idle();
    assert.ok(Number(s.stats().compactions) >= 1);
    assert.equal(s.get(b('d00')), undefined);
    assert.equal(str(s.get(b('d01'))), 'x'.repeat(40));
    assert.deepEqual(
      s.scan(b('d'), undefined, 100).map((e) => str(e.key)),
      Array.from({ length: 15 }, (_, i) => `d${String(i * 2 + 1).padStart(2, '0')}`),
    );
    await s.close();
  });

  it('accepts values larger than the memtable limit, one run per write if need be', async () => {
    const dir = tempDir(after);
    const s = await openTestLsm(dir, { memtableBytes: 2048, maxRuns: 2 });
    for (let i = 0; i < 10; i++) await s.put(b(`big${i}`), Buffer.alloc(5000 + i, i));
    await Promise.all(Array.from({ length: 20 }, (_, i) => s.put(b(`c${i}`), Buffer.alloc(3000, 7))));
    await s.idle();
    assert.equal(s.get(b('big9'))?.length, 5009);
    assert.equal(s.get(b('c19'))?.[0], 7);
    await s.close();
  });

  it('starts a new WAL when power loss took log records that runs already hold (durability none)', async () => {
    const dir = tempDir(after);
    let vfs = new FaultyVfs();
    const s = await openTestLsm(dir, {
      vfs,
      durability: 'none',
      memtableBytes: 2048,
      maxRuns: 8,
      walSegmentBytes: 1 << 20,
    });
    for (let i = 0; i < 40; i++) await s.put(b(`n${i}`), b('v'.repeat(30)));
    await s.idle();
    assert.ok(Number(s.stats().runs) >= 1, 'some writes reached a synced run');
    vfs = vfs.crash(false);
    await s.close().catch(() => undefined);
    const s2 = await openTestLsm(dir, { vfs, durability: 'none', memtableBytes: 2048, maxRuns: 8 });
    const seq = (await s2.put(b('after'), b('1'))).seq;
    assert.ok(seq > 1, `the new log continues after the durable seq (${seq})`);
    await s2.close();
    const s3 = await openTestLsm(dir, { vfs, durability: 'none', memtableBytes: 2048, maxRuns: 8 });
    assert.equal(str(s3.get(b('after'))), '1', 'a second restart reads the new log without a seq gap error');
    await s3.close();
  });

  it('flushes the memtables recovery froze, with more runs than max_runs waiting for compaction', async () => {
    const dir = tempDir(after);
    let vfs = new FaultyVfs();
    const s = await openTestLsm(dir, { vfs, memtableBytes: 2048, maxRuns: 8 });
    // 183 memtable bytes a write: 5 flushes of 12, then 8 writes left in the active memtable.
    for (let i = 0; i < 68; i++) await s.put(b(`r${i}`), b('v'.repeat(100)));
    await s.idle();
    assert.ok(Number(s.stats().runs) >= 2, 'some writes are in runs');
    assert.ok(Number(s.stats().memtableKeys) >= 2, 'some are only in the log');
    // Power loss: what the active memtable held is replayed from the log at the next open.
    vfs = vfs.crash(false);
    await s.close().catch(() => undefined);
    const s2 = await openTestLsm(dir, { vfs, memtableBytes: 300, maxRuns: 1 });
    try {
      await s2.idle();
      for (let i = 0; i < 68; i++) assert.equal(str(s2.get(b(`r${i}`))), 'v'.repeat(100));
      assert.equal(Number(s2.stats().frozenMemtables), 0, 'every frozen memtable was flushed');
    } finally {
      await s2.close();
    }
  });

  it('counts bloom checks and negatives in stats', async () => {
    const dir = tempDir(after);
    const s = await openTestLsm(dir, { memtableBytes: 2048, maxRuns: 8 });
    for (let i = 0; i < 50; i++) await s.put(b(`b${i}`), b('v'.repeat(40)));
    await s.idle();
    for (let i = 0; i < 200; i++) s.get(b(`absent${i}`));
    const st = s.stats();
    assert.ok(Number(st.runs) >= 1);
    assert.ok(Number(st.bloomChecks) >= 200);
    assert.ok(Number(st.bloomNegatives) >= 150);
    await s.close();
  });
});
