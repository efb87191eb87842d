/**
 * leftStores (src/server/left-stores.ts): the store directories of a data directory that a start
 * does not open are named, with their sizes; the stores it opens, a node directory's new (empty)
 * store and the data directory's own entries (worker logs, LOCK) are not.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { leftStores } from '../../src/server/left-stores.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('leftStores', () => {
  it('names the stores not opened, with their bytes, and nothing else', () => {
    const data = tempDir(after);
    const store = (node: string, shard: string, file: string, bytes: number): string => {
      const dir = join(data, node, shard);
      mkdirSync(join(dir, 'runs'), { recursive: true });
      writeFileSync(join(dir, file), Buffer.alloc(bytes));
      return dir;
    };
    const opened = store('127.0.0.1_4001', 'shard-0', 'commit-log', 10);
    const removed = store('127.0.0.1_4002', 'shard-0', 'commit-log', 3000);
    writeFileSync(join(removed, 'runs', 'r1.sst'), Buffer.alloc(1000));
    const lmdb = join(data, '127.0.0.1_4001', 'old-name');
    mkdirSync(lmdb);
    writeFileSync(join(lmdb, 'data.mdb'), Buffer.alloc(50));
    mkdirSync(join(data, '127.0.0.1_4003', 'shard-1'), { recursive: true });
    mkdirSync(join(data, 'log', 'w0'), { recursive: true });
    writeFileSync(join(data, 'log', 'w0', 'segment'), Buffer.alloc(10));
    writeFileSync(join(data, 'LOCK'), 'x');
    const left = leftStores(data, [opened]).sort((a, b) => a.dir.localeCompare(b.dir));
    assert.deepEqual(left, [
      { dir: lmdb, bytes: 50 },
      { dir: removed, bytes: 4000 },
    ]);
  });

  it('finds nothing in a data directory that does not exist yet', () => {
    assert.deepEqual(leftStores(join(tempDir(after), 'none'), []), []);
  });
});
