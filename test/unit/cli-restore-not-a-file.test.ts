/**
 * `distkv restore` of a path that is not a regular file: a device (/dev/null, or /dev/stdin fed by
 * `cat backup.dkv |`) or a named pipe. A restore reads its file twice (checked whole before anything
 * is written), which a pipe cannot give; it was told "the file is empty (0 bytes), so it is no
 * backup (distkv backup never leaves one empty...)" of a pipe that held a backup, and a FIFO
 * hung the command in its open. It now says what the path is and what to do (exit 2, no node asked).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

/** BOUNDED ends a command that hangs (a FIFO opened with no writer) after 20 s. */
const BOUNDED = ['timeout', '20'];

describe('distkv restore of a path that is not a regular file', () => {
  it('says it is not a regular file and to save the backup to one, exit 2', async () => {
    const fifo = join(tempDir(after), 'pipe');
    execFileSync('mkfifo', [fifo]);
    for (const path of ['/dev/null', fifo]) {
      // Nothing listens at port 1: the path is refused before any node is asked.
      const r = await runCli(['restore', path, '--force', '--url', '127.0.0.1:1'], {}, undefined, BOUNDED);
      assert.equal(r.code, 2, `${path}: ${r.stderr}`);
      assert.equal(
        r.stderr.split('\n')[0],
        `distkv restore: ${path} is not a regular file (a pipe or a device): a restore reads its file twice (all of it is checked before anything is written), which a pipe cannot give: save the backup to a file and restore that`,
      );
    }
  });
});
