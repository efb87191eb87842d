/**
 * `distkv backup` of a cluster with a shard whose leader is down and stays down: the backup waits
 * for a failover (--wait-ms, 30 s by default, docs/operations.md "Backup and restore", "During a
 * failover"), then fails. It used to end with the last refusal alone ("shard 1 could not be copied
 * from http://...: connect ECONNREFUSED ..."), saying neither that it had waited nor what to do. It
 * now says how long no leader answered, names the shard's failover command, and that FILE was not
 * written. The backup is given --wait-ms 2000: the default's 30 s were most of this file's time,
 * and the message names the wait it was given (the default's "30 s" came from the same number).
 * A --wait-ms (backup's or restore's) that is no integer in its range is a usage mistake (exit 2).
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
    const started = performance.now();
    const r = await runCli(['backup', file, '--url', up, '--wait-ms', '2000']);
    const tookMs = performance.now() - started;
    assert.equal(r.code, 1, r.stderr);
    // It waited the time it names before it gave up.
    assert.ok(tookMs >= 2000, `the backup gave up after ${Math.round(tookMs)} ms`);
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
        `shard 1 \\(shard-1\\) had no leader that answered for 2 s: start ${down.replaceAll('.', '\\.')} again or fail the shard over \\(distkv failover --shard shard-1, --force while its leader is down\\), then run the backup again; .*b\\.dkv was not written`,
      ),
      r.stderr,
    );
    assert.equal(existsSync(file), false);
    assert.equal(existsSync(`${file}.partial`), false);
  });

  it('refuses a --wait-ms that is not an integer in 0..3600000 (exit 2), naming the bound', async () => {
    for (const [verb, value] of [
      ['backup', '-1'],
      ['backup', '3600001'],
      ['restore', 'soon'],
    ] as const) {
      const r = await runCli([verb, join(dir, `${verb}-bad.dkv`), '--url', up, '--wait-ms', value]);
      assert.equal(r.code, 2, `${verb} --wait-ms ${value}: ${r.stderr}`);
      assert.match(r.stderr, /--wait-ms must be an integer in 0\.\.3600000 ms, got/, r.stderr);
    }
  });
});
