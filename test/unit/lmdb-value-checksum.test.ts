import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CorruptionError } from '../../src/errors.js';
import { openKvEnv } from '../../src/storage/lmdb-env.js';
import { LmdbLevel } from '../../src/storage/lmdb-level.js';
import { LmdbStore } from '../../src/storage/lmdb-store.js';
import { LMDB_VALUE_LAYOUT, META_VALUE_LAYOUT } from '../../src/storage/lmdb-value-format.js';
import { writeU64 } from '../../src/storage/wal-format.js';
import { tempDir } from '../helpers/temp-dir.js';

const b = (s: string): Buffer => Buffer.from(s);

/** flipIn flips one byte of the first occurrence of `marker` in `file` (as a failing disk would). */
function flipIn(file: string, marker: string): void {
  const bytes = readFileSync(file);
  const at = bytes.indexOf(b(marker));
  assert.ok(at >= 0, `${marker} is in ${file}`);
  bytes[at + 3]! ^= 0x01;
  writeFileSync(file, bytes);
}

describe('LMDB values carry a checksum', () => {
  it('refuses a value whose bytes changed on disk in the LSM bottom level, instead of returning it altered', async () => {
    const dir = tempDir(after);
    const level = new LmdbLevel(dir);
    await level.apply(
      [
        { key: b('k1'), value: b('value-one-MARKER-1'), seq: 1 },
        { key: b('k2'), value: b('value-two'), seq: 2 },
      ],
      2,
    );
    await level.close();
    const file = join(dir, 'lmdb', 'data.mdb');
    flipIn(file, 'MARKER-1');
    const again = new LmdbLevel(dir);
    try {
      assert.throws(
        () => again.get(b('k1')),
        (err: unknown) => err instanceof CorruptionError && err.file === file,
      );
      assert.throws(() => [...again.entries(Buffer.alloc(0), undefined, false)], CorruptionError);
      assert.equal(again.get(b('k2'))?.value?.toString(), 'value-two', 'the other values still read');
    } finally {
      await again.close();
    }
  });

  it('refuses a value whose bytes changed on disk in the LMDB-only store', async () => {
    const dir = tempDir(after);
    const opts = { dir, durability: 'fsync' as const, fsyncIntervalMs: 100 };
    const s = new LmdbStore(opts);
    await s.put(b('k1'), b('value-one-MARKER-2'));
    await s.close();
    flipIn(join(dir, 'data.mdb'), 'MARKER-2');
    const again = new LmdbStore(opts);
    try {
      assert.throws(() => again.get(b('k1')), CorruptionError);
      assert.throws(() => again.scan(b(''), undefined, 10), CorruptionError);
    } finally {
      await again.close();
    }
  });

  it('upgrades a layout 2 level (seq and expiry, no checksum) in place, keeping versions and expiries', async () => {
    const dir = tempDir(after);
    const env = openKvEnv(join(dir, 'lmdb'), { noSync: false, overlappingSync: false });
    const layout2 = (seq: number, exp: number, v: string): Buffer => {
      const out = Buffer.alloc(16 + v.length);
      writeU64(out, seq, 0);
      writeU64(out, exp, 8);
      out.write(v, 16);
      return out;
    };
    await env.data.put(b('x'), layout2(7, 0, 'old-x'));
    await env.data.put(b('y'), layout2(9, 1_900_000_000_000, ''));
    await env.meta.put(META_VALUE_LAYOUT, 2);
    await env.root.close();
    const level = new LmdbLevel(dir);
    try {
      assert.deepEqual(level.get(b('x')), { seq: 7, expiresAtMs: 0, value: b('old-x') });
      assert.deepEqual(level.get(b('y')), { seq: 9, expiresAtMs: 1_900_000_000_000, value: Buffer.alloc(0) });
    } finally {
      await level.close();
    }
    const reopened = openKvEnv(join(dir, 'lmdb'), { noSync: false, overlappingSync: false });
    assert.equal(reopened.meta.get(META_VALUE_LAYOUT), LMDB_VALUE_LAYOUT);
    await reopened.root.close();
  });
});
