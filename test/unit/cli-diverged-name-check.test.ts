/**
 * `distkv diverged` checks what a divergence file holds against its name (lackOfName,
 * src/cli/diverged-read.ts): a file from the log holds each seq of its range once, a keys file
 * (`.keys-<count>`) holds `count` records under seqs of its range. Whole files of either kind (a
 * `.<n>` one, a keys file of a fork at 0 holding keys of unknown version, seq 0) pass; a keys file
 * cut short says how many records it lacks; a file both damaged and short names the damage and
 * the first missing seq; a device is refused before it is read (exit 2).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { divergedNameOf, lackOfName, readDivergedBytes } from '../../src/cli/diverged-read.js';
import { encodeRecord, recordSize, TYPE_PUT } from '../../src/storage/wal-format.js';
import { BIN } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir(after, 'distkv-diverged-name-');

function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, 'diverged', ...args], { encoding: 'utf8', timeout: 15_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function puts(...seqs: number[]): Buffer {
  return Buffer.concat(
    seqs.map((seq) => {
      const key = Buffer.from(`k${seq}`);
      const b = Buffer.alloc(recordSize(key.length, 1));
      encodeRecord(b, 0, TYPE_PUT, seq, key, Buffer.from('v'));
      return b;
    }),
  );
}

/** lack is what lackOfName says of a file named `name` holding records of `seqs`. */
function lack(name: string, ...seqs: number[]): string | undefined {
  const parsed = divergedNameOf(join(dir, name));
  assert.ok(parsed !== undefined, `${name} is a divergence name`);
  return lackOfName(parsed, readDivergedBytes(puts(...seqs)).records);
}

describe('lackOfName: what a divergence file holds against its name', () => {
  it('a whole file passes: its range (also a .<n> one), an empty range, a keys file', () => {
    assert.equal(lack('s0.diverged-2-5-7.log', 5, 6, 7), undefined);
    assert.equal(lack('s0.diverged-2-5-7.3.log', 5, 6, 7), undefined);
    assert.equal(lack('s0.diverged-2-6-5.log'), undefined);
    assert.equal(lack('s0.diverged-2-1-90.keys-2.log', 90, 7), undefined);
    assert.equal(lack('s0.diverged-2-1-90.keys-2.2.log', 40, 8), undefined);
    // A fork at 0 saves every live key, those of unknown version (seq 0) among them: diverged-scan.ts.
    assert.equal(lack('s0.diverged-2-1-90.keys-2.log', 0, 7), undefined);
  });

  it('a log file names its first missing seq and how many it lacks', () => {
    assert.equal(
      lack('s0.diverged-2-5-7.log', 5, 6),
      'seq 7 is missing (it lacks 1 of the 3 records of seq 5..7 its name says)',
    );
    assert.equal(
      lack('s0.diverged-2-5-9.log'),
      'seq 5 is missing (it lacks 5 of the 5 records of seq 5..9 its name says)',
    );
    assert.match(lack('s0.diverged-2-5-9.log', 5, 7, 9) ?? '', /^seq 6 is missing \(it lacks 2 of the 5 /);
  });

  it('a log file with a seq twice or outside its range says so', () => {
    assert.equal(lack('s0.diverged-2-5-6.log', 5, 5, 6), 'it holds seq 5 twice');
    assert.equal(
      lack('s0.diverged-2-5-6.log', 5, 6, 8),
      'it holds seq 8, outside the seq 5..6 its name says',
    );
    assert.match(lack('s0.diverged-2-1-6.log', 0, 1, 2, 3, 4, 5, 6) ?? '', /seq 0, outside/);
  });

  it('a keys file names how many records of its count it lacks', () => {
    assert.equal(
      lack('s0.diverged-2-1-90.keys-3.log', 7, 40),
      'it lacks 1 of the 3 records its name says (.keys-3)',
    );
    assert.equal(
      lack('s0.diverged-2-1-90.keys-2.log'),
      'it lacks 2 of the 2 records its name says (.keys-2)',
    );
    assert.match(
      lack('s0.diverged-2-1-90.keys-1.log', 7, 40) ?? '',
      /^it holds 2 records, more than the 1 record /,
    );
    assert.match(
      lack('s0.diverged-2-5-90.keys-2.log', 0, 40) ?? '',
      /it holds seq 0, outside the seq 5\.\.90/,
    );
  });
});

describe('distkv diverged checks each file against its name', () => {
  it('a keys file cut short prints its records, then how many it lacks: exit 1', () => {
    const file = join(dir, 's3.diverged-4-1-90.keys-3.log');
    writeFileSync(file, puts(40, 7));
    const r = run(file);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /^7\tput\tk7\tv\n40\tput\tk40\tv\n.*2 records, seq 7\.\.40, forked by epoch 4/);
    assert.match(
      r.stderr,
      /CORRUPTION: .*does not hold what its name says.*it lacks 1 of the 3 records its name says \(\.keys-3\)/,
    );
  });

  it('a whole keys file and a whole .<n> log file exit 0', () => {
    const keys = join(dir, 's4.diverged-4-1-90.keys-2.log');
    writeFileSync(keys, puts(0, 12));
    const log = join(dir, 's4.diverged-4-5-6.2.log');
    writeFileSync(log, puts(5, 6));
    const r = run(keys, log);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
  });

  it('a file damaged inside a record names the damage and the first seq it lacks', () => {
    const file = join(dir, 's5.diverged-4-5-7.log');
    const whole = puts(5, 6, 7);
    writeFileSync(file, whole.subarray(0, whole.length - 30));
    const r = run(file);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /damaged at byte offset \d+: truncated.*; seq 6 is missing/);
  });

  it('a device is refused before it is read: exit 2, saying what it is', (t) => {
    if (!existsSync('/dev/null')) {
      t.skip('no /dev/null');
      return;
    }
    const r = run('/dev/null');
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /cannot read \/dev\/null: it is a character device, not a regular file/);
  });
});
