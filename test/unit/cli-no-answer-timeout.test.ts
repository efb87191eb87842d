/**
 * A CLI verb against a node that takes requests and never answers (frozen: SIGSTOP, a dead host)
 * failed saying "the node did not answer within the client's timeout (timeoutMs)" or "(timeoutMs
 * 10000 ms, ...)": the client library's option, which no CLI flag sets, beside the --timeout-ms
 * of set, del and get that bounds only the wait for --w. It now says the node did not answer
 * within 10 s, that this bound is fixed, and what --timeout-ms is. Twins: a node:http server that
 * never answers at all (the verb's /cluster load fails), and one that answers /cluster and never
 * answers a key request (the write's one attempt fails). Each run takes the 10 s.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/server-process.js';
import { type SilentTwins, startSilentTwins } from '../helpers/twin-server.js';

let twins: SilentTwins;
before(async () => {
  twins = await startSilentTwins();
});
after(() => twins.stop());

const FIXED = 'the 10 s of each attempt is fixed: --timeout-ms bounds only the wait for --w';

describe('a CLI verb at a node that never answers', { timeout: 60_000 }, () => {
  it('says the node did not answer within 10 s, not the library option timeoutMs', async () => {
    const [load, write] = await Promise.all([
      runCli(['get', 'k', '--url', twins.silent.address, '--refused-wait-ms', '0']),
      runCli(['set', 'k', 'v', '--url', twins.keysSilent.address, '--refused-wait-ms', '0']),
    ]);
    assert.equal(load.code, 1, load.stderr);
    assert.match(
      load.stderr,
      new RegExp(
        `distkv get: SHARD_UNREACHABLE: no node answered /cluster \\(http://${twins.silent.address}\\): Headers Timeout Error: the node did not answer within 10 s \\(${FIXED}\\); it is paused, frozen or overloaded`,
      ),
    );
    assert.equal(write.code, 1, write.stderr);
    assert.match(
      write.stderr,
      new RegExp(
        `distkv set: OUTCOME_UNKNOWN: shard 0 \\(shard-0\\) at http://${twins.keysSilent.address} is unreachable: Headers Timeout Error: the node did not answer within 10 s \\(one attempt, \\d+\\.\\d s in all; ${FIXED}\\); it is paused`,
      ),
    );
    for (const r of [load, write]) assert.doesNotMatch(r.stderr, /timeoutMs/);
  });
});
