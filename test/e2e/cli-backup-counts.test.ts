/**
 * `distkv backup` of one key on one shard says "1 key", "1 shard": its summary lines wrote a fixed
 * plural after the count ("shard 0 shard-0: 1 keys at seq 1", "wrote FILE: 1 keys from 1 shards").
 * Two keys still read "2 keys".
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type OwnServer, runCli, startOneNode } from '../helpers/server-process.js';

let own: OwnServer | undefined;
after(async () => {
  await own?.stop();
});
let dir = '';
let node = '';

before(async () => {
  const started = await startOneNode('', ['--workers', '1', '--durability', 'none'], {
    DISTKV_LOG_LEVEL: 'warn',
  });
  own = started;
  ({ dir, address: node } = started);
});

/** setThenBackup sets `key`, backs the cluster up into `file` (in the test's dir) and returns the file's path and backup's stdout. */
async function setThenBackup(key: string, file: string): Promise<{ path: string; stdout: string }> {
  const set = await runCli(['set', key, '1', '--url', node]);
  assert.equal(set.code, 0, set.stderr);
  const path = join(dir, file);
  const r = await runCli(['backup', path, '--url', node]);
  assert.equal(r.code, 0, r.stderr);
  return { path, stdout: r.stdout };
}

describe('distkv backup summary counts', () => {
  it('says "1 key" and "1 shard" for one key, "2 keys" for two', async () => {
    const one = await setThenBackup('a', 'one.dkv');
    assert.equal(one.stdout, `shard 0 shard-0: 1 key at seq 1\nwrote ${one.path}: 1 key from 1 shard\n`);
    const two = await setThenBackup('b', 'two.dkv');
    assert.equal(two.stdout, `shard 0 shard-0: 2 keys at seq 2\nwrote ${two.path}: 2 keys from 1 shard\n`);
  });
});
