import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { checkDataFormat, FORMAT_FILE } from '../../src/server/data-format.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('data directory FORMAT marker', () => {
  it('writes the slot function into a new data directory and accepts it on the next start', () => {
    const dir = join(tempDir(after), 'data');
    const store = join(dir, '127.0.0.1_8080', 'shard-0');
    checkDataFormat(dir, [store]);
    assert.match(readFileSync(join(dir, FORMAT_FILE), 'utf8'), /^format=2\nslots=crc16-redis-cluster\n$/);
    mkdirSync(join(store, 'wal'), { recursive: true });
    writeFileSync(join(store, 'wal', '00000001.log'), 'x');
    checkDataFormat(dir, [store]);
  });

  it('refuses stores written before the marker existed (xxh64 routing), saying what to do', () => {
    const dir = tempDir(after);
    const store = join(dir, '127.0.0.1_8080', 'shard-0');
    mkdirSync(join(store, 'lmdb'), { recursive: true });
    writeFileSync(join(store, 'lmdb', 'data.mdb'), 'x');
    assert.throws(
      () => {
        checkDataFormat(dir, [store]);
      },
      (err: Error & { code?: string }) =>
        err.code === 'CONFIG_INVALID' && /xxh64/.test(err.message) && /fresh --data-dir/.test(err.message),
    );
  });

  it('accepts an old directory whose store directories exist but are empty', () => {
    const dir = tempDir(after);
    const store = join(dir, 'n', 'shard-0');
    mkdirSync(join(store, 'wal'), { recursive: true });
    checkDataFormat(dir, [store]);
    assert.ok(readFileSync(join(dir, FORMAT_FILE), 'utf8').includes('slots=crc16-redis-cluster'));
  });

  it('refuses a marker naming another slot function', () => {
    const dir = tempDir(after);
    writeFileSync(join(dir, FORMAT_FILE), 'format=1\nslots=xxh64\n');
    assert.throws(() => {
      checkDataFormat(dir, []);
    }, /slots=xxh64/);
  });
});
