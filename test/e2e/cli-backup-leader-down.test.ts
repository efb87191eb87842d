/**
 * `distkv backup` of a cluster with a shard whose leader is down and stays down: the backup waits
 * for a failover (30 s, docs/operations.md "Backup and restore", "During a failover"), then fails.
 * It used to end with the last refusal alone ("shard 1 could not be copied from http://...:
 * connect ECONNREFUSED ..."), saying neither that it had waited nor what to do. It now says how
 * long no leader answered, names the shard's failover command, and that FILE was not written.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePorts } from '../helpers/ports.js';
import { runCli, type ServerProcess, startConfigNode, writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const servers: ServerProcess[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});
const dir = tempDir(after);
let up = '';
let down = '';

before(async () => {
  const [a, b] = await freePorts(2);
  up = `127.0.0.1:${a}`;
  // shard-1's leader is never started: nothing listens at its address.
  down = `127.0.0.1:${b}`;
  const config = writeConfig(dir, [{ address: up }, { address: down }]);
  await startConfigNode(config, up, join(dir, 'data'), servers);
});

describe('distkv backup with a shard whose leader stays down', { timeout: 120000 }, () => {
  it('fails saying how long it waited, what to do, and that FILE was not written', async () => {
    const file = join(dir, 'b.dkv');
    const r = await runCli(['backup', file, '--url', up]);
    assert.equal(r.code, 1, r.stderr);
    // The shard, its node and the last refusal; then that it waited, what to do, and FILE.
    assert.match(
      r.stderr,
      new RegExp(
        `^distkv backup: SHARD_UNREACHABLE: shard 1 could not be copied from http://${down.replaceAll('.', '\\.')}: .*ECONNREFUSED`,
        'm',
      ),
    );
    assert.match(
      r.stderr,
      new RegExp(
        `shard 1 \\(shard-1\\) had no leader that answered for 30 s: start ${down.replaceAll('.', '\\.')} again or fail the shard over \\(distkv failover --shard shard-1, --force while its leader is down\\), then run the backup again; .*b\\.dkv was not written`,
      ),
      r.stderr,
    );
    assert.equal(existsSync(file), false);
    assert.equal(existsSync(`${file}.partial`), false);
  });
});
