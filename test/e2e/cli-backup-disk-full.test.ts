/**
 * `distkv backup` whose file cannot grow (a full disk; here a file size limit, `ulimit -f`, which
 * fails the write the same way without a small file system to fill). A snapshot larger than one
 * read chunk used to end the command with exit 13 and nothing said, FILE.partial left behind
 * (which then refused the next backup to FILE): the failed write left the snapshot's stream half
 * read and the agent's close waited for it for ever. A smaller one ended with the bare system
 * error ("EFBIG: file too large, write"), exit 1 as if the cluster had refused it. The command now
 * names the file it could not write, why, that FILE was not written and FILE.partial removed, and
 * exits 2 (a file mistake, as for a missing directory).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { type OwnServer, runCli, startOneNode } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

/** LIMIT_BLOCKS is the file size limit given to the backup, in ulimit's 1 KiB blocks (the data is 20 times more). */
const LIMIT_BLOCKS = 64;

let node: OwnServer & { address: string };
after(async () => {
  await node.stop();
});
const dir = tempDir(after);

before(async () => {
  node = await startOneNode('', ['--workers', '1'], { DISTKV_LOG_LEVEL: 'warn' });
  const client = new DistkvClient({ urls: [node.address] });
  try {
    const ops = Array.from({ length: 320 }, (_, i) => ({
      op: 'set' as const,
      key: `k${i}`,
      value: Buffer.alloc(4096, i % 251),
    }));
    const results = await client.batch(ops);
    assert.ok(
      results.every((r) => r.ok),
      JSON.stringify(results.find((r) => !r.ok)),
    );
  } finally {
    await client.close();
  }
});

describe('distkv backup to a file that cannot grow', () => {
  it('names the file and why, removes FILE.partial and exits 2', async () => {
    const file = join(dir, 'full.dkv');
    const r = await runCli(['backup', file, '--url', node.address], {}, undefined, [
      '/bin/sh',
      '-c',
      `ulimit -f ${LIMIT_BLOCKS} && exec "$0" "$@"`,
    ]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /^distkv backup: cannot write .*full\.dkv\.partial: the file is larger than the system allows .*; .*full\.dkv was not written \(.*full\.dkv\.partial removed\)/m,
    );
    assert.doesNotMatch(r.stderr, /DISTKV_DEBUG|EFBIG/);
    assert.equal(existsSync(file), false);
    assert.equal(existsSync(`${file}.partial`), false);
  });
});
