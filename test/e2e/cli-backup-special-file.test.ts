/**
 * `distkv backup FILE --force` where FILE is not a regular file (here a named pipe; a device such as
 * /dev/null or /dev/full is the same case) is refused, exit 2, naming what FILE is, and FILE is left
 * as it was. The backup wrote FILE.partial and renamed it over FILE: the FIFO became a regular file,
 * and run as root `distkv backup /dev/null --force` replaced /dev/null for the whole machine.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli, startOneNode } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('distkv backup onto a file that is not a regular file', () => {
  it('is refused even with --force, the file left as it was', async () => {
    const node = await startOneNode('', ['--workers', '1'], { DISTKV_LOG_LEVEL: 'warn' });
    try {
      const r0 = await fetch(`http://${node.address}/kv/k`, { method: 'PUT', body: 'v' });
      assert.equal(r0.status, 204);
      const fifo = join(tempDir(after), 'pipe');
      execFileSync('mkfifo', [fifo]);

      const r = await runCli(['backup', fifo, '--force', '--url', node.address]);
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.match(
        r.stderr,
        /cannot write .*pipe: it is a named pipe \(FIFO\), not a regular file .*: name a regular file/,
      );
      assert.ok(lstatSync(fifo).isFIFO(), 'the FIFO is still a FIFO');
      assert.equal(existsSync(`${fifo}.partial`), false, 'no FILE.partial left');

      // A regular file is still replaced with --force.
      const file = join(tempDir(after), 'old.dkv');
      const first = await runCli(['backup', file, '--url', node.address]);
      assert.equal(first.code, 0, first.stderr);
      const again = await runCli(['backup', file, '--force', '--url', node.address]);
      assert.equal(again.code, 0, again.stderr);
    } finally {
      await node.stop();
    }
  });
});
