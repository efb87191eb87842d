/**
 * Values of 16 MiB and more in LMDB (src/storage/lmdb-level.ts, lmdb-store.ts). lmdb-js's
 * getBinaryFast answers from a shared Buffer up to a size and with a plain Uint8Array above it;
 * the value decoder reads the header with Buffer methods, so once such a value (value and its 20-byte
 * header over 16 MiB, `server.max_value_bytes` allows 64 MiB) reached LMDB every read of it failed
 * with INTERNAL "b.readUInt32LE is not a function": the value was stored and could not be read.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { LmdbLevel } from '../../src/storage/lmdb-level.js';
import { LmdbStore } from '../../src/storage/lmdb-store.js';
import { tempDir } from '../helpers/temp-dir.js';

const MIB = 1024 * 1024;
/** SIZES span the size where lmdb-js stops answering from its shared buffer, up to the 64 MiB limit. */
const SIZES = [0, 1, 16 * MIB - 21, 16 * MIB - 20, 16 * MIB - 19, 16 * MIB, 16 * MIB + 1, 64 * MIB];

/** valueOf is a value of `size` bytes whose every byte depends on its place and its size. */
function valueOf(size: number): Buffer {
  const v = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) v[i] = (i * 31 + size) & 0xff;
  return v;
}

const keyOf = (size: number): Buffer => Buffer.from(`k${String(size)}`);

describe('LMDB values of 16 MiB and more', () => {
  it('read back byte for byte from the LSM bottom level, between reads of small ones', async () => {
    const level = new LmdbLevel(tempDir(after));
    try {
      await level.apply(
        SIZES.map((size, i) => ({ key: keyOf(size), value: valueOf(size), seq: i + 1 })),
        SIZES.length,
      );
      for (const size of [...SIZES, ...[...SIZES].reverse()]) {
        const value = level.get(keyOf(size))?.value;
        assert.ok(value, `${String(size)} bytes: found`);
        assert.ok(Buffer.from(value).equals(valueOf(size)), `${String(size)} bytes: the same bytes`);
      }
    } finally {
      await level.close();
    }
  });

  it('read back byte for byte from the LMDB-only store', async () => {
    const s = new LmdbStore({ dir: tempDir(after), durability: 'fsync', fsyncIntervalMs: 100 });
    try {
      for (const size of SIZES) await s.put(keyOf(size), valueOf(size));
      for (const size of [...SIZES, ...[...SIZES].reverse()]) {
        const got = s.get(keyOf(size));
        assert.ok(got !== undefined, `${String(size)} bytes: found`);
        assert.ok(Buffer.from(got).equals(valueOf(size)), `${String(size)} bytes: the same bytes`);
      }
    } finally {
      await s.close();
    }
  });
});
