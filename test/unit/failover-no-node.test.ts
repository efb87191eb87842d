/**
 * `distkv failover` when no node it was given answers: it said only "no node answered /cluster
 * (http://127.0.0.1:8080)" (found by a tester who ran it without --url): neither why (nothing
 * listens there? a refusal?) nor how to name a node. Now the last failure and the way out.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { failover } from '../../src/cli/failover.js';
import { DistkvError } from '../../src/errors.js';
import { closedAddress } from '../helpers/ports.js';

describe('distkv failover with no node answering', () => {
  it('says why the node did not answer and to name one with --url', async () => {
    const address = await closedAddress();
    await assert.rejects(
      failover({ urls: [`http://${address}`], shard: 's0', force: true, token: '', timeoutMs: 2000 }),
      (err: unknown) => {
        assert.ok(err instanceof DistkvError);
        assert.equal(err.code, 'SHARD_UNREACHABLE');
        assert.match(err.message, new RegExp(`no node answered /cluster \\(http://${address}\\)`));
        assert.match(err.message, /ECONNREFUSED|refused/, 'names the failure');
        assert.match(err.message, /--url \(or DISTKV_URL\)/, 'says how to name a node');
        return true;
      },
    );
  });
});
