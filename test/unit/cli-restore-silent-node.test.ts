/**
 * `distkv restore FILE` against a node that takes requests and never answers (stopped with
 * SIGSTOP, frozen): the restore asks it for its `/cluster` before writing anything, which the
 * client retries for about 50 s, and it said nothing meanwhile, so it looked hung. It now says
 * after 5 s that it is still trying and what Ctrl-C does, as get, set, del, cluster and backup do
 * (src/cli/slow-note.ts); nothing was written, so the note does not speak of a write. Twin: a
 * node:http server that never answers.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { spawnCli } from '../helpers/server-process.js';
import { writeOneShardBackup } from '../helpers/one-shard-backup.js';
import { tempDir } from '../helpers/temp-dir.js';
import { type HandlerTwin, startHandlerTwin } from '../helpers/twin-server.js';

const NOTE =
  /distkv restore: no answer yet after 5 s; still trying \(a node may be stopped or overloaded: each attempt waits up to 10 s\)\. Ctrl-C gives up\n/;

describe('distkv restore asking a node that never answers', { timeout: 60000 }, () => {
  let twin: HandlerTwin;
  const dir = tempDir(after);

  before(async () => {
    twin = await startHandlerTwin((req) => {
      req.resume();
    });
  });

  after(async () => {
    await twin.stop();
  });

  it('says after 5 s that it is still trying, within 15 s', async () => {
    const file = join(dir, 'one.dkv');
    writeOneShardBackup(file, [{ key: Buffer.from('k'), value: Buffer.from('v'), expiresAtMs: 0 }]);
    const t0 = performance.now();
    const run = spawnCli(['restore', file, '--url', twin.address]);
    const deadline = Date.now() + 15000;
    while (!NOTE.test(run.stderrSoFar()) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    const ms = performance.now() - t0;
    process.kill(run.pid, 'SIGKILL');
    await run.result;
    assert.match(run.stderrSoFar(), NOTE);
    assert.ok(ms >= 5000, `the note came after ${Math.round(ms)} ms`);
  });
});
