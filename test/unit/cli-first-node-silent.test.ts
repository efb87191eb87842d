/**
 * `distkv cluster`, `distkv backup` and `distkv restore` against a node that takes requests and
 * never answers (stopped with SIGSTOP, frozen): `cluster` asks the last node of --url as long as
 * the client retries a read, about 50 s, `backup` its map's load for 10 s, and `restore` its
 * `/cluster` before writing anything, about 50 s, all without a word, so the command looked hung. Now each says after 5 s that it is still trying and what Ctrl-C does, as
 * get, set and del do (slow-note.ts). Twin: a node:http server that never answers.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeOneShardBackup } from '../helpers/one-shard-backup.js';
import { spawnCli } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';
import { type HandlerTwin, startHandlerTwin } from '../helpers/twin-server.js';

const NOTE = /no answer yet after 5 s; still trying \(a node may be stopped or overloaded/;

describe('a CLI command asking a node that never answers', { timeout: 60000 }, () => {
  let twin: HandlerTwin;
  const dir = tempDir(after);

  before(async () => {
    twin = await startHandlerTwin((req) => {
      req.resume();
    });
    writeOneShardBackup(join(dir, 'one.dkv'), [
      { key: Buffer.from('k'), value: Buffer.from('v'), expiresAtMs: 0 },
    ]);
  });

  after(async () => {
    await twin.stop();
  });

  /** noteOf runs `distkv <args>` until it says it still waits (at most 15 s), stops it and returns its stderr. */
  async function noteOf(args: string[]): Promise<string> {
    const run = spawnCli([...args, '--url', twin.address]);
    const deadline = Date.now() + 15000;
    while (!NOTE.test(run.stderrSoFar()) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    process.kill(run.pid, 'SIGKILL');
    await run.result;
    return run.stderrSoFar();
  }

  for (const [verb, args] of [
    ['cluster', ['cluster']],
    ['backup', ['backup', join(dir, 'never.dkv')]],
    ['restore', ['restore', join(dir, 'one.dkv')]],
  ] as const)
    it(`distkv ${verb} says it is still trying`, async () => {
      const stderr = await noteOf([...args]);
      assert.match(stderr, new RegExp(`distkv ${verb}: ${NOTE.source}`));
    });
});
