/**
 * `distkv restore` of an empty file (a backup redirected into place by a shell that failed, a
 * file created and never written): it was told "it is not a distkv backup (...; a file of JSON
 * lines is for distkv load)", which sends the user to another command for a file that holds
 * nothing. It now says the file is empty, so not a backup, and what to restore instead (exit 2,
 * as every file mistake; no node is asked).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir(after);

describe('distkv restore of an empty file', () => {
  it('says the file is empty, not a backup, and what to do; not distkv load', async () => {
    const file = join(dir, 'empty.dkv');
    writeFileSync(file, '');
    // Nothing listens at port 1: the file is refused before any node is asked.
    const r = await runCli(['restore', file, '--url', '127.0.0.1:1']);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(
      r.stderr.split('\n')[0],
      `distkv restore: ${file} is not a usable backup: the file is empty (0 bytes), so it is no backup (distkv backup never leaves one empty: it writes its file only once complete): restore the file a backup wrote, or make one with distkv backup`,
    );
    assert.doesNotMatch(r.stderr, /distkv load/);
  });

  it('still sends a file of JSON lines to distkv load', async () => {
    const file = join(dir, 'lines.jsonl');
    writeFileSync(file, '{"key":"k","value":"v"}\n');
    const r = await runCli(['restore', file, '--url', '127.0.0.1:1']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /not a distkv backup .*a file of JSON lines is for distkv load/);
  });

  it('--help gives its exit code', async () => {
    const r = await runCli(['restore', '--help']);
    assert.equal(r.code, 0);
    assert.match(
      r.stdout.replaceAll('\n', ' '),
      /2 for usage mistakes and files that are unreadable, damaged or no backup \(an empty one\)/,
    );
  });
});
