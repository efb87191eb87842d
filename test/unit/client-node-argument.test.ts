/**
 * `cluster(node)` and `nodeStats(node)` take the node as the client's urls are given: HOST:PORT or
 * http(s)://HOST:PORT. The client put its scheme before whatever it got, so `nodeStats('http://x')`
 * asked "http://http://x" (and said so in its errors); a scheme other than the client's is refused
 * by name rather than sent under the client's own.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { DistkvError } from '../../src/errors.js';
import { type HandlerTwin, oneShardView, startHandlerTwin } from '../helpers/twin-server.js';

let twin: HandlerTwin;
let asked: string[];
let client: DistkvClient;

before(async () => {
  asked = [];
  twin = await startHandlerTwin((req, res) => {
    asked.push(`${req.headers.host ?? ''} ${req.url ?? ''}`);
    const body = req.url === '/cluster' ? oneShardView(twin.address) : JSON.stringify({ node: twin.address });
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  client = new DistkvClient({ urls: [twin.address], retries: 0, timeoutMs: 2000 });
});

after(async () => {
  await client.close();
  await twin.stop();
});

describe('a node named in a call', () => {
  it('is asked at its address whether given with http:// or not', async () => {
    for (const node of [`http://${twin.address}`, twin.address]) {
      asked.length = 0;
      assert.deepEqual(await client.nodeStats(node), { node: twin.address }, node);
      const view = await client.cluster(node);
      assert.equal(view.shards.length, 1, node);
      assert.deepEqual(asked, [`${twin.address} /stats`, `${twin.address} /cluster`], node);
    }
  });

  it('is refused with another scheme than the client talks, naming both, nothing sent', async () => {
    asked.length = 0;
    for (const call of [
      () => client.nodeStats(`https://${twin.address}`),
      () => client.cluster(`https://${twin.address}`),
    ])
      await assert.rejects(call, (err: unknown) => {
        assert.ok(err instanceof DistkvError);
        assert.equal(err.code, 'INVALID_ARGUMENT');
        assert.equal(
          err.message,
          `node "https://${twin.address}" is https, but this client talks http (its urls): give it as HOST:PORT or http://HOST:PORT`,
        );
        return true;
      });
    assert.deepEqual(asked, []);
  });

  it('is refused when it is no address', async () => {
    await assert.rejects(() => client.nodeStats('http://'), /INVALID_ARGUMENT|is not a node address/);
  });
});
