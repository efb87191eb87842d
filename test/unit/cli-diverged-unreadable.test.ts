/**
 * `distkv diverged` on a file it cannot read (missing, a directory, no permission) exited 1 with
 * "NOT_FOUND: cannot read ...", where every other command's file mistake exits 2 with "cannot read
 * FILE: <reason>" and a pointer to --help (src/cli/files.ts). It now does the same; a file read
 * before it is printed first. --help says so.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { encodeRecord, recordSize, TYPE_PUT } from '../../src/storage/wal-format.js';
import { BIN } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir(after);

function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, 'diverged', ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('distkv diverged on a file it cannot read', () => {
  it('exits 2 saying which file and why, as other commands do for their files', () => {
    const missing = join(dir, 's0.diverged-1-1-1.log');
    const r = run(missing);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(
      r.stderr,
      `distkv diverged: cannot read ${missing}: no such file or directory\nRun "distkv diverged --help" for usage.\n`,
    );
    const folder = join(dir, 's0.diverged-2-1-1.log');
    mkdirSync(folder);
    const d = run(folder);
    assert.equal(d.status, 2, d.stderr);
    assert.match(d.stderr, new RegExp(`^distkv diverged: cannot read ${folder}: `));
  });

  it('prints the files before it first', () => {
    const good = join(dir, 's0.diverged-3-5-5.log');
    const b = Buffer.alloc(recordSize(1, 1));
    encodeRecord(b, 0, TYPE_PUT, 5, Buffer.from('k'), Buffer.from('v'));
    writeFileSync(good, b);
    const r = run(good, join(dir, 'gone.diverged-1-1-1.log'));
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stdout, `5\tput\tk\tv\n${good}: 1 record, seq 5..5, forked by epoch 3\n`);
  });

  it('--help gives the exit code of a file it cannot read', () => {
    const r = run('--help');
    assert.equal(r.status, 0);
    assert.match(
      r.stdout,
      /A file that cannot be read, or is no divergence file, is a usage mistake \(exit 2\)\./,
    );
  });
});
