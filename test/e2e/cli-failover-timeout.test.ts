/**
 * `distkv failover --timeout-ms` is bounded by what a node holds a leader's writes for (an hour,
 * less the command's slack): a longer one is a usage mistake naming the option (exit 2), found
 * before any node is asked. It failed with INTERNAL (exit 1) and the leader's 400 about an `ms`
 * parameter the user never gave. `--hold-slack-ms` (the 10 s the holds outlast the catch-up by)
 * has its own bounds, and the timeout's bound follows it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { freePort } from '../helpers/ports.js';
import { runCli } from '../helpers/server-process.js';

describe('distkv failover --timeout-ms', () => {
  it('refuses a timeout over the longest hold before asking any node, and takes the longest', async () => {
    // Nothing listens there: a command that got past its options fails with exit 1 (unreachable).
    const url = `127.0.0.1:${await freePort()}`;
    const over = await runCli(['failover', '--shard', 'shard-0', '--timeout-ms', '3590001', '--url', url]);
    assert.equal(over.code, 2, over.stderr);
    assert.match(over.stderr, /--timeout-ms must be an integer in 0\.\.3590000 ms, got "3590001"/);
    const longest = await runCli(['failover', '--shard', 'shard-0', '--timeout-ms', '3590000', '--url', url]);
    assert.equal(longest.code, 1, longest.stderr);
    assert.doesNotMatch(longest.stderr, /timeout-ms/);
  });

  it('takes --hold-slack-ms in 1000..600000, and a timeout up to the longest hold less it', async () => {
    const url = `127.0.0.1:${await freePort()}`;
    const run = (extra: string[]) => runCli(['failover', '--shard', 'shard-0', '--url', url, ...extra]);
    const [short, long, bad, fits, over] = await Promise.all([
      run(['--hold-slack-ms', '999']),
      run(['--hold-slack-ms', '600001']),
      run(['--hold-slack-ms', 'soon']),
      run(['--hold-slack-ms', '1000', '--timeout-ms', '3599000']),
      run(['--hold-slack-ms', '1000', '--timeout-ms', '3599001']),
    ]);
    for (const r of [short, long, bad]) {
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /--hold-slack-ms must be an integer in 1000\.\.600000 ms, got "/);
    }
    assert.equal(fits.code, 1, fits.stderr);
    assert.doesNotMatch(fits.stderr, /-ms/);
    assert.equal(over.code, 2, over.stderr);
    assert.match(over.stderr, /--timeout-ms must be an integer in 0\.\.3599000 ms, got "3599001"/);
  });
});
