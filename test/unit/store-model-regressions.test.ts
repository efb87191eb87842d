/**
 * Histories that broke a store, kept as fixed examples next to the randomized model test: values
 * over SLAB_BYTES/4 followed by small ones (issue 12 item 1), an empty value as a memtable's first,
 * and the same histories replayed from the WAL on reopen.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Memtable } from '../../src/storage/memtable.js';
import { SLAB_BYTES } from '../../src/storage/memtable-arena.js';
import { openTestLsm } from '../helpers/lsm.js';
import { tempDir } from '../helpers/temp-dir.js';
import { lsmTarget, newTally, runSequence } from './store-model-harness.js';
import { type ModelOp, valueBytes } from './store-model-ops.js';

/** sameValue asserts byte equality without printing megabytes of diff. */
function sameValue(actual: Uint8Array | null | undefined, expected: Buffer, what: string): void {
  assert.ok(
    actual != null && expected.equals(actual),
    `${what}: got ${actual?.length ?? 'nothing'}, expected ${expected.length} bytes as written`,
  );
}

const smallThenBigThenSmall = (big: number): [string, Buffer][] => [
  ...Array.from({ length: 40 }, (_, i): [string, Buffer] => [`s${i}`, valueBytes(100 + i, i)]),
  ['big', valueBytes(big, 7)],
  ...Array.from({ length: 40 }, (_, i): [string, Buffer] => [`t${i}`, valueBytes(100 + i, 40 + i)]),
];

describe('memtable arena', () => {
  for (const big of [SLAB_BYTES / 4, SLAB_BYTES / 4 + 1, 300_000, SLAB_BYTES]) {
    it(`keeps a ${big}-byte value intact when small values follow it`, () => {
      const m = new Memtable();
      const writes = smallThenBigThenSmall(big);
      writes.forEach(([k, v], i) => {
        m.apply(k, i + 1, v);
      });
      for (const [k, v] of writes) sameValue(m.get(k)?.value, v, `value of ${k}`);
    });
  }

  it('accepts an empty value as the first value of a memtable, and after a large one', () => {
    const m = new Memtable();
    m.apply('empty', 1, Buffer.alloc(0));
    m.apply('big', 2, valueBytes(SLAB_BYTES / 4 + 1, 1));
    m.apply('empty2', 3, Buffer.alloc(0));
    assert.equal(m.get('empty')?.value?.length, 0);
    assert.equal(m.get('empty2')?.value?.length, 0);
    sameValue(m.get('big')?.value, valueBytes(SLAB_BYTES / 4 + 1, 1), 'big');
  });
});

describe('LSM store with values over the slab limit', () => {
  it('serves, then replays from the WAL, small values written after a 300,000-byte one', async () => {
    const dir = tempDir(after);
    const writes = smallThenBigThenSmall(300_000);
    // A memtable larger than everything written: nothing is flushed, so reopening replays the WAL.
    const s = await openTestLsm(dir, { memtableBytes: 4 << 20 });
    for (const [k, v] of writes) await s.put(Buffer.from(k), v);
    for (const [k, v] of writes) sameValue(s.get(Buffer.from(k)), v, `value of ${k}`);
    await s.close();
    const again = await openTestLsm(dir, { memtableBytes: 4 << 20 });
    for (const [k, v] of writes) sameValue(again.get(Buffer.from(k)), v, `value of ${k} after replay`);
    await again.put(Buffer.from('after'), valueBytes(10, 1));
    await again.close();
  });

  it('passes the model script the randomized test shrank the slab bug to', async () => {
    const ops: ModelOp[] = [
      { op: 'put', key: 0, size: 0, tag: 0 },
      { op: 'put', key: 0, size: SLAB_BYTES / 4 + 1, tag: 0 },
      { op: 'put', key: 1, size: 1, tag: 1 },
      { op: 'reopen' },
    ];
    const config = {
      durability: 'fsync',
      memtableBytes: 1 << 20,
      maxRuns: 1,
      walSegmentBytes: 4096,
      ringBytes: 4096,
    } as const;
    await runSequence(lsmTarget, config, ops, newTally());
  });
});
