/**
 * engineOfDir tells which engine wrote a store directory from its files, and checkEngineOfDir
 * refuses to open it under the other (src/storage/engine-of-dir.ts).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { checkEngineOfDir, engineOfDir } from '../../src/storage/engine-of-dir.js';
import { errorCode } from '../helpers/error-code.js';

describe('the engine of a store directory', () => {
  const root = mkdtempSync(join(tmpdir(), 'distkv-engine-of-dir-'));
  after(() => {
    rmSync(root, { recursive: true, force: true });
  });
  const store = (name: string, files: string[], dirs: string[] = []): string => {
    const dir = join(root, name);
    mkdirSync(dir, { recursive: true });
    for (const f of files) writeFileSync(join(dir, f), '');
    for (const d of dirs) mkdirSync(join(dir, d));
    return dir;
  };

  it('is told from the files each engine writes', () => {
    assert.equal(engineOfDir(join(root, 'missing')), undefined);
    assert.equal(engineOfDir(store('new', ['SLOTS'])), undefined);
    assert.equal(engineOfDir(store('lsm', ['commit-log'], ['lmdb', 'runs'])), 'lsm');
    assert.equal(engineOfDir(store('old-lsm', [], ['wal'])), 'lsm');
    assert.equal(engineOfDir(store('lmdb', ['data.mdb', 'data.mdb-lock'])), 'lmdb');
  });

  it('refuses a store under the other engine, naming both', () => {
    const lsm = join(root, 'lsm');
    const lmdb = join(root, 'lmdb');
    assert.doesNotThrow(() => {
      checkEngineOfDir(lsm, 'lsm', 'a');
      checkEngineOfDir(lmdb, 'lmdb', 'a');
      checkEngineOfDir(join(root, 'new'), 'lmdb', 'a');
      checkEngineOfDir(join(root, 'new'), 'memory', 'a');
      checkEngineOfDir(join(root, 'missing'), 'memory', 'a');
    });
    assert.equal(
      errorCode(() => {
        checkEngineOfDir(lsm, 'lmdb', 'a');
      }),
      'CONFIG_INVALID',
    );
    assert.throws(() => {
      checkEngineOfDir(lmdb, 'lsm', 'shard-3');
    }, /store shard-3 .* was written by the lmdb engine, not lsm.*--engine lmdb/);
  });

  it('refuses the memory engine over a store that holds data, which it would serve as empty', () => {
    for (const [dir, wrote] of [
      [join(root, 'lsm'), 'lsm'],
      [join(root, 'lmdb'), 'lmdb'],
    ] as const)
      assert.throws(
        () => {
          checkEngineOfDir(dir, 'memory', 'shard-1');
        },
        new RegExp(
          `store shard-1 .* holds data of the ${wrote} engine: the memory engine would serve it as empty.*--engine ${wrote}.*--data-dir`,
        ),
      );
  });
});
