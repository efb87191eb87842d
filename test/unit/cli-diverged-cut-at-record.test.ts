/**
 * `distkv diverged` on divergence files that hold less than their name says. A divergence file is
 * written whole (as `.partial`, fsynced, then renamed: src/replication/diverged-file.ts), so "a
 * file named with a seq range holds that range", and `/stats` counts its records from the name.
 * A copy cut short (a full disk on the copy, an interrupted scp, a file emptied by a mistaken
 * `>`) that ends between two records decodes to fewer records with no damage found: the command
 * printed what was left, "0 records, none" for an empty one, and exit 0, as if the store had lost
 * nothing more; its help promises exit 1 for "a damaged or truncated file". The name's first and
 * last seq tell what is missing.
 *
 * And a FIFO named like a divergence file: the command waited for a writer for ever (restore
 * refuses a pipe or a device as FILE for that reason; diverged reads its files whole, too).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { encodeRecord, recordSize, TYPE_PUT } from '../../src/storage/wal-format.js';
import { BIN } from '../helpers/server-process.js';

const dir = mkdtempSync(join(tmpdir(), 'distkv-diverged-cut-'));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, 'diverged', ...args], { encoding: 'utf8', timeout: 15_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function put(seq: number, key: string, value: string): Buffer {
  const v = Buffer.from(value);
  const b = Buffer.alloc(recordSize(Buffer.byteLength(key), v.length));
  encodeRecord(b, 0, TYPE_PUT, seq, Buffer.from(key), v);
  return b;
}

describe('distkv diverged on a file holding less than its name says', () => {
  it('a file cut between two records (seqs 5..7 named, 5..6 held) is truncated: exit 1', () => {
    const cut = join(dir, 's0.diverged-2-5-7.log');
    writeFileSync(cut, Buffer.concat([put(5, 'a', '1'), put(6, 'b', '2')]));
    const r = run(cut);
    assert.match(r.stdout, /^5\tput\ta\t1\n6\tput\tb\t2\n/);
    assert.equal(r.status, 1, `exit ${String(r.status)}; stdout: ${r.stdout}; stderr: ${r.stderr}`);
    assert.match(r.stderr, /seq 7 is missing/, 'names the seq it lacks');
  });

  it('an empty file named for seqs 5..9 is truncated: exit 1', () => {
    const empty = join(dir, 's1.diverged-2-5-9.log');
    writeFileSync(empty, Buffer.alloc(0));
    const r = run(empty);
    assert.equal(r.status, 1, `exit ${String(r.status)}; stdout: ${r.stdout}; stderr: ${r.stderr}`);
    assert.match(r.stderr, /seq 5 is missing \(it lacks 5 of the 5 records/);
  });

  it('a FIFO named like a divergence file is refused at once (exit 2), not waited on', (t) => {
    const fifo = join(dir, 's2.diverged-2-5-9.log');
    const made = spawnSync('mkfifo', [fifo]);
    if (made.status !== 0) {
      t.skip('mkfifo is not available');
      return;
    }
    const started = Date.now();
    const r = run(fifo);
    assert.notEqual(
      r.status,
      null,
      `still waiting after ${Date.now() - started} ms (killed by the test's timeout)`,
    );
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /it is a named pipe \(FIFO\), not a regular file/);
  });
});
