/**
 * `distkv failover --timeout-ms` is bounded by what a node holds a leader's writes for (an hour,
 * less the command's slack): a longer one is a usage mistake naming the option (exit 2), found
 * before any node is asked. It failed with INTERNAL (exit 1) and the leader's 400 about an `ms`
 * parameter the user never gave.
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
});
