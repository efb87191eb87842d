/**
 * A key read at a node that takes the request and never answers fails naming the timeout the
 * client was made with, the attempts and the time they took in all. It said "timeoutMs, 10 s by
 * default" whatever the client's timeout was: a client made with `timeoutMs: 2000` whose `get`
 * failed after about 12 s (four attempts, as docs/api.md "Retries" has it) read as if 10 s were
 * the bound. Twin: a node:http server that answers /cluster and never answers a key request.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { DistkvError } from '../../src/errors.js';
import { type HandlerTwin, oneShardView, startHandlerTwin } from '../helpers/twin-server.js';

let twin: HandlerTwin;

before(async () => {
  twin = await startHandlerTwin((req, res) => {
    if (req.url === '/cluster')
      res.writeHead(200, { 'content-type': 'application/json' }).end(oneShardView(twin.address));
    else req.resume();
  });
});

after(async () => {
  await twin.stop();
});

describe('a key read at a node that never answers', () => {
  it("names the client's timeoutMs, the attempts and the total time", async () => {
    const client = new DistkvClient({ urls: [`http://${twin.address}`], timeoutMs: 300, retries: 3 });
    try {
      const began = performance.now();
      await assert.rejects(client.get('k'), (err: unknown) => {
        const tookS = (performance.now() - began) / 1000;
        assert.ok(err instanceof DistkvError, String(err));
        assert.equal(err.code, 'SHARD_UNREACHABLE');
        const m = /the client's timeout \(timeoutMs 300 ms, each of 4 attempts, (\d+\.\d) s in all\)/.exec(
          err.message,
        );
        assert.ok(m, err.message);
        // 4 × 300 ms plus the backoffs: the figure is the call's own time, to a tenth of a second
        // (measured here after the rejection is delivered: on a loaded machine later, never sooner)
        assert.ok(
          Number(m[1]) >= 1.2 &&
            Number(m[1]) <= tookS + 0.1 &&
            tookS - Number(m[1]) <= Math.max(0.2, tookS * 0.15),
          `${m[1]} s; took ${tookS.toFixed(2)} s`,
        );
        assert.doesNotMatch(err.message, /10 s by default/);
        return true;
      });
    } finally {
      await client.close();
    }
  });
});
