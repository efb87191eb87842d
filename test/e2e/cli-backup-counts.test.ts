/**
 * `distkv backup` of one key on one shard says "1 key", "1 shard": its summary lines wrote a fixed
 * plural after the count ("shard 0 shard-0: 1 keys at seq 1", "wrote FILE: 1 keys from 1 shards").
 * Two keys still read "2 keys".
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../helpers/ports.js';
import { runCli, ServerProcess, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

let server: ServerProcess | undefined;
after(async () => {
  await server?.stop();
});
const dir = tempDir(after);
let node = '';

before(async () => {
  node = `127.0.0.1:${await freePort()}`;
  const config = writeConfig(dir, [{ address: node }]);
  mkdirSync(join(dir, 'data'));
  server = await ServerProcess.start(
    [
      ...['--config', config, '--node', node, '--data-dir', join(dir, 'data')],
      ...['--workers', '1', '--durability', 'none'],
    ],
    `http://${node}/healthz`,
    { DISTKV_LOG_LEVEL: 'warn' },
  );
});

describe('distkv backup summary counts', () => {
  it('says "1 key" and "1 shard" for one key, "2 keys" for two', async () => {
    const set = await runCli(['set', 'a', '1', '--url', node]);
    assert.equal(set.code, 0, set.stderr);
    const one = join(dir, 'one.dkv');
    const r = await runCli(['backup', one, '--url', node]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `shard 0 shard-0: 1 key at seq 1\nwrote ${one}: 1 key from 1 shard\n`);
    const set2 = await runCli(['set', 'b', '2', '--url', node]);
    assert.equal(set2.code, 0, set2.stderr);
    const two = join(dir, 'two.dkv');
    const r2 = await runCli(['backup', two, '--url', node]);
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(r2.stdout, `shard 0 shard-0: 2 keys at seq 2\nwrote ${two}: 2 keys from 1 shard\n`);
  });
});
