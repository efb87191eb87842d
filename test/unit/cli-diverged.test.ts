/** `distkv diverged` as run: --help, --json, a damaged file, a missing file, a file that is no divergence file. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { encodeRecord, recordSize, TYPE_DELETE, TYPE_PUT } from '../../src/storage/wal-format.js';
import { BIN } from '../helpers/server-process.js';

const dir = mkdtempSync(join(tmpdir(), 'distkv-diverged-'));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, 'diverged', ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function record(
  type: typeof TYPE_PUT | typeof TYPE_DELETE,
  seq: number,
  key: string,
  value?: string,
): Buffer {
  const v = value === undefined ? undefined : Buffer.from(value);
  const b = Buffer.alloc(recordSize(Buffer.byteLength(key), v?.length ?? 0));
  encodeRecord(b, 0, type, seq, Buffer.from(key), v);
  return b;
}

const file = join(dir, 's0.diverged-3-5-6.log');
writeFileSync(file, Buffer.concat([record(TYPE_PUT, 5, 'k', 'v'), record(TYPE_DELETE, 6, 'k')]));

describe('distkv diverged', () => {
  it('--help says what it prints', () => {
    const r = run('--help');
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^Usage: distkv diverged FILE/);
  });

  it('--json prints one object per record, the summary on stderr', () => {
    const r = run(file, '--json');
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as unknown),
      [
        { seq: 5, type: 'put', key: 'k', value: 'v' },
        { seq: 6, type: 'delete', key: 'k' },
      ],
    );
    assert.equal(r.stderr, `${file}: 2 records, seq 5..6, forked by epoch 3\n`);
  });

  it('a truncated file prints what decodes, then the offset, exit 1', () => {
    const cut = join(dir, 's0.diverged-4-5-6.log');
    const whole = Buffer.concat([record(TYPE_PUT, 5, 'k', 'v'), record(TYPE_DELETE, 6, 'k')]);
    writeFileSync(cut, whole.subarray(0, whole.length - 2));
    const r = run(cut);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, `5\tput\tk\tv\n${cut}: 1 record, seq 5..5, forked by epoch 4\n`);
    assert.match(r.stderr, /CORRUPTION: .*damaged at byte offset 21: truncated/);
  });

  it('a missing file and a file that is no divergence file are usage mistakes (exit 2)', () => {
    const missing = run(join(dir, 's0.diverged-1-1-1.log'));
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /cannot read .*: no such file or directory$/m);
    const other = join(dir, 'notes.txt');
    writeFileSync(other, 'hello');
    const wrong = run(other);
    assert.equal(wrong.status, 2);
    assert.match(wrong.stderr, /not a divergence file/);
    assert.equal(run().status, 2);
  });
});
