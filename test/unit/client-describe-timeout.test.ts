/**
 * ClientOptions.describeTimeout words the timeout in the error of a call a silent node let run
 * out ("the node did not answer within …"), for an application whose users never see timeoutMs
 * (the distkv CLI: cliTimeout, src/cli/connect.ts). Without it the library names its option,
 * now with its value also when the /cluster load ran out (it said "(timeoutMs)" alone).
 * Twins: a node:http server that never answers, and one that answers /cluster only.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cliTimeout } from '../../src/cli/connect.js';
import { DistkvClient } from '../../src/client/client.js';
import type { TimeoutFacts } from '../../src/client/types.js';
import { DistkvError } from '../../src/errors.js';
import { type SilentTwins, startSilentTwins } from '../helpers/twin-server.js';

let twins: SilentTwins;
before(async () => {
  twins = await startSilentTwins();
});
after(() => twins.stop());

/**
 * messageOf runs `call` on a client of `urls` made with `extra`, and returns its error's message;
 * its code must be `code` (a write sent and unanswered is OUTCOME_UNKNOWN: it may have been applied).
 */
async function messageOf(
  url: string,
  call: (c: DistkvClient) => Promise<unknown>,
  describeTimeout?: (t: TimeoutFacts) => string,
  code = 'SHARD_UNREACHABLE',
): Promise<string> {
  const client = new DistkvClient({
    urls: [url],
    timeoutMs: 300,
    retries: 0,
    ...(describeTimeout === undefined ? {} : { describeTimeout }),
  });
  try {
    await call(client);
  } catch (err) {
    assert.ok(err instanceof DistkvError, String(err));
    assert.equal(err.code, code);
    return err.message;
  } finally {
    await client.close();
  }
  assert.fail('the call did not fail');
}

describe('describeTimeout', () => {
  it("names the library's option and its value by default, the /cluster load's too", async () => {
    assert.match(
      await messageOf(twins.silent.address, (c) => c.get('k')),
      /no node answered \/cluster .*: the node did not answer within the client's timeout \(timeoutMs 300 ms\); it is paused/,
    );
    assert.match(
      await messageOf(twins.keysSilent.address, (c) => c.get('k')),
      /the node did not answer within the client's timeout \(timeoutMs 300 ms, one attempt, \d+\.\d s in all\); it is paused/,
    );
  });

  it("words it as the client's user knows it when given: the CLI's seconds and --w's wait", async () => {
    const cli = cliTimeout(true);
    assert.match(
      await messageOf(twins.silent.address, (c) => c.get('k'), cli),
      /: the node did not answer within 0\.3 s \(the 0\.3 s of each attempt is fixed: --timeout-ms bounds only the wait for --w\); it is paused/,
    );
    const write = await messageOf(
      twins.keysSilent.address,
      (c) => c.put('k', 'v', { w: 1, timeoutMs: 200 }),
      cli,
      'OUTCOME_UNKNOWN',
    );
    assert.match(
      write,
      /: the node did not answer within 0\.3 s plus 200 ms for --w \(--timeout-ms\) \(one attempt, \d+\.\d s in all; the 0\.3 s of each attempt is fixed: --timeout-ms bounds only the wait for --w\); it is paused/,
    );
    assert.doesNotMatch(write, /timeoutMs/);
    const noWaitOption = await messageOf(twins.silent.address, (c) => c.get('k'), cliTimeout(false));
    assert.match(noWaitOption, /within 0\.3 s \(the 0\.3 s of each attempt is fixed\); it is paused/);
  });
});
