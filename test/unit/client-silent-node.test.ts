/**
 * A node that takes the connection and the request but never answers (stopped with SIGSTOP,
 * frozen, overloaded): the client's error said only undici's "Headers Timeout Error", naming
 * neither whose timeout ran out nor what it means (`distkv get`, `cluster`, `backup` and `restore`
 * printed it as all they knew). It now says the node did not answer within the client's timeout
 * and why that happens, as a refused connection says nothing listens there.
 * Twin: a node:http server that reads each request and never answers it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { DistkvError } from '../../src/errors.js';
import { type HandlerTwin, startHandlerTwin } from '../helpers/twin-server.js';

describe('a node that never answers', () => {
  let twin: HandlerTwin;

  before(async () => {
    twin = await startHandlerTwin((req) => {
      req.resume();
    });
  });

  after(async () => {
    await twin.stop();
  });

  it("fails the call naming the client's timeout and what a silent node is", async () => {
    const client = new DistkvClient({ urls: [twin.address], timeoutMs: 200, retries: 0 });
    try {
      await assert.rejects(client.cluster(), (err: unknown) => {
        assert.ok(err instanceof DistkvError, String(err));
        assert.equal(err.code, 'SHARD_UNREACHABLE');
        assert.match(
          err.message,
          /Headers Timeout Error: the node did not answer within the client's timeout \(timeoutMs 200 ms, one attempt, \d+\.\d s in all\); it is paused, frozen or overloaded/,
        );
        return true;
      });
    } finally {
      await client.close();
    }
  });
});
