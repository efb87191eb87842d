import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CorruptionError } from '../../src/errors.js';
import { KeyBloom } from '../../src/storage/bloom.js';
import { crc32c } from '../../src/storage/crc32c.js';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import type { Versioned } from '../../src/storage/merge-iterator.js';
import {
  BLOOM_FP_RATE,
  ENTRY_HEADER_BYTES,
  FOOTER_BYTES,
  SST_MAGIC,
} from '../../src/storage/sstable-format.js';
import { BlockCache, RunReader } from '../../src/storage/sstable-reader.js';
import { writeRun } from '../../src/storage/sstable-writer.js';
import { writeU64 } from '../../src/storage/wal-format.js';

const keyOf = (i: number): string => `k${String(i).padStart(6, '0')}`;

/** entriesOf builds `n` entries k000000.. with even-numbered keys (odd ones are absent), every 7th a tombstone. */
function entriesOf(n: number): [string, Versioned][] {
  return Array.from({ length: n }, (_, i): [string, Versioned] => [
    keyOf(2 * i),
    { seq: i + 1, value: i % 7 === 3 ? null : Buffer.from(`value-${i}`.repeat((i % 5) + 1)) },
  ]);
}

/** v2Run encodes `entries` as a version 2 run (one block, no restart points), as older builds wrote it. */
function v2Run(entries: [string, Versioned][]): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of entries) {
    const e = Buffer.alloc(ENTRY_HEADER_BYTES + k.length + (v.value?.length ?? 0));
    e.writeUInt16LE(k.length, 0);
    e[2] = v.value === null ? 1 : 0;
    writeU64(e, v.seq, 3);
    e.writeUInt32LE(v.value?.length ?? 0, 11);
    e.write(k, ENTRY_HEADER_BYTES, 'latin1');
    v.value?.copy(e, ENTRY_HEADER_BYTES + k.length);
    parts.push(e);
  }
  const block = Buffer.concat(parts);
  const first = entries[0]![0];
  const index = Buffer.alloc(4 + 2 + first.length + 16);
  index.writeUInt32LE(1, 0);
  index.writeUInt16LE(first.length, 4);
  index.write(first, 6, 'latin1');
  writeU64(index, 0, 6 + first.length);
  index.writeUInt32LE(block.length, 14 + first.length);
  index.writeUInt32LE(crc32c(block), 18 + first.length);
  const bloom = KeyBloom.create(entries.length, BLOOM_FP_RATE);
  for (const [k] of entries) bloom.add(k);
  const bloomBuf = bloom.encode();
  const footer = Buffer.alloc(FOOTER_BYTES);
  footer.writeUInt32LE(SST_MAGIC, 0);
  footer[4] = 2;
  writeU64(footer, block.length, 8);
  footer.writeUInt32LE(index.length, 16);
  footer.writeUInt32LE(crc32c(index), 20);
  writeU64(footer, block.length + index.length, 24);
  footer.writeUInt32LE(bloomBuf.length, 32);
  footer.writeUInt32LE(crc32c(bloomBuf), 36);
  writeU64(footer, entries.length, 40);
  writeU64(footer, 1, 48);
  writeU64(footer, entries.length, 56);
  footer.writeUInt32LE(crc32c(footer, 0, FOOTER_BYTES - 4), FOOTER_BYTES - 4);
  return Buffer.concat([block, index, bloomBuf, footer]);
}

/** checkRun asserts that every entry is found with its seq and value, and that odd keys are absent. */
function checkRun(r: RunReader, entries: [string, Versioned][]): void {
  for (let i = 0; i < entries.length; i++) {
    const [k, v] = entries[i]!;
    const got = r.get(k);
    assert.equal(got?.seq, v.seq, `${k} is found`);
    assert.deepEqual(got.value, v.value, `${k} has its value`);
    assert.equal(r.get(keyOf(2 * i + 1)), undefined, `${keyOf(2 * i + 1)} is absent`);
  }
  assert.equal(r.get(''), undefined);
  assert.equal(r.get('zzz'), undefined);
}

describe('SSTable blocks with restart points (version 3)', () => {
  it('finds every key and no absent one, in blocks of many restart intervals', async () => {
    const vfs = new FaultyVfs();
    vfs.mkdirp('/runs');
    // Short values: about 150 entries per 4 KiB block, so dozens of restart points per block.
    const entries = entriesOf(3000);
    const meta = await writeRun(vfs, '/runs', 1, entries, entries.length, 1, 3000);
    const r = new RunReader(vfs, meta.path, 1, new BlockCache(1 << 20));
    checkRun(r, entries);
    assert.deepEqual(
      [...r.entries(keyOf(5001))].map(([k]) => k).slice(0, 2),
      [keyOf(5002), keyOf(5004)],
      'iteration starts at the first key ≥ from',
    );
    assert.equal([...r.entries()].length, 3000);
  });

  it('handles blocks of one entry (values bigger than a block) and of a single restart', async () => {
    const vfs = new FaultyVfs();
    vfs.mkdirp('/runs');
    const entries: [string, Versioned][] = [
      [keyOf(0), { seq: 1, value: Buffer.alloc(9000, 1) }],
      [keyOf(2), { seq: 2, value: Buffer.alloc(3, 2) }],
      [keyOf(4), { seq: 3, value: Buffer.alloc(5000, 3) }],
      [keyOf(6), { seq: 4, value: null }],
    ];
    const meta = await writeRun(vfs, '/runs', 1, entries, entries.length, 1, 4);
    checkRun(new RunReader(vfs, meta.path, 1, new BlockCache(1 << 20)), entries);
  });

  it('returns values as views that stay valid after their block is evicted and the run closed', async () => {
    const vfs = new FaultyVfs();
    vfs.mkdirp('/runs');
    const entries = entriesOf(3000);
    const meta = await writeRun(vfs, '/runs', 1, entries, entries.length, 1, 3000);
    const cache = new BlockCache(4096 * 2);
    const r = new RunReader(vfs, meta.path, 1, cache);
    const held = r.get(keyOf(0))!.value!;
    for (let i = 0; i < 3000; i += 50) r.get(keyOf(2 * i)); // touches every block: evicts the first
    r.close();
    assert.deepEqual(held, entries[0]![1].value);
  });

  it('counts block cache hits and misses, and caches nothing with a zero-byte cache', async () => {
    const vfs = new FaultyVfs();
    vfs.mkdirp('/runs');
    const entries = entriesOf(300);
    const meta = await writeRun(vfs, '/runs', 1, entries, entries.length, 1, 300);
    const cache = new BlockCache(1 << 20);
    const r = new RunReader(vfs, meta.path, 1, cache);
    r.get(keyOf(0));
    r.get(keyOf(2));
    assert.deepEqual([cache.hits, cache.misses], [1, 1]);
    const none = new BlockCache(0);
    const r0 = new RunReader(vfs, meta.path, 2, none);
    r0.get(keyOf(0));
    r0.get(keyOf(2));
    assert.deepEqual([none.hits, none.misses], [0, 2]);
  });
});

describe('older run versions', () => {
  it('reads a version 2 run (blocks without restart points)', async () => {
    const vfs = new FaultyVfs();
    vfs.mkdirp('/runs');
    const entries = entriesOf(200);
    await vfs.writeFile('/runs/000001.sst', v2Run(entries));
    const r = new RunReader(vfs, '/runs/000001.sst', 1, new BlockCache(1 << 20));
    checkRun(r, entries);
    assert.equal([...r.entries()].length, 200);
  });

  it('refuses an unknown version, naming the file and the versions it reads', async () => {
    const vfs = new FaultyVfs();
    vfs.mkdirp('/runs');
    const file = v2Run(entriesOf(10));
    const at = file.length - FOOTER_BYTES;
    file[at + 4] = 9;
    file.writeUInt32LE(crc32c(file, at, file.length - 4), file.length - 4);
    await vfs.writeFile('/runs/000001.sst', file);
    assert.throws(
      () => new RunReader(vfs, '/runs/000001.sst', 1, new BlockCache(1 << 20)),
      (err: unknown) =>
        err instanceof CorruptionError &&
        err.offset === at &&
        /unsupported run version 9 \(this build reads versions 2 to 4\)/.test(err.message),
    );
  });
});
