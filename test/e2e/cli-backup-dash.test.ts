/**
 * `distkv backup -` and `distkv restore -`: "-" is standard output or input to every other verb
 * that takes a file, and a backup can be neither (it is written as FILE.partial and renamed; a
 * restore reads FILE twice). Both are usage mistakes (exit 2) before any node is asked or any file
 * written: `distkv backup - | gzip > b.gz` wrote a file named "-" in the working directory and
 * piped only the summary lines, exit 0.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort } from '../helpers/ports.js';
import { BIN } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

/** run runs distkv in `cwd` against `url` and resolves with its exit code and stderr. */
function run(cwd: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd,
      env: { ...process.env, DISTKV_TOKEN: '', DISTKV_URL: '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (code) => {
      resolve({ code, stderr });
    });
  });
}

describe('distkv backup and restore with "-"', () => {
  it('refuses "-" as FILE, writing nothing', async () => {
    const cwd = tempDir(after);
    // Nothing listens there: a command that got past its arguments fails with exit 1 (unreachable).
    const url = `127.0.0.1:${await freePort()}`;
    const backup = await run(cwd, ['backup', '-', '--url', url]);
    assert.equal(backup.code, 2, backup.stderr);
    assert.match(backup.stderr, /a backup is written to a file .* not to standard output/);
    assert.equal(existsSync(join(cwd, '-')), false);
    assert.equal(existsSync(join(cwd, '-.partial')), false);
    const restore = await run(cwd, ['restore', '-', '--url', url]);
    assert.equal(restore.code, 2, restore.stderr);
    assert.match(restore.stderr, /a backup is restored from a file .* not from standard input/);
  });
});
