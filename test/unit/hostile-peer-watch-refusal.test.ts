/**
 * A watch refused by a broken or hostile node (src/client/watch.ts): the refusal's body is read up
 * to ERROR_BODY_BYTES (src/util/peer-answer.ts) within a time bound, as a replica reads a
 * leader's. The client gathered the whole body: a node that claimed gigabytes and sent a little of
 * them held the watch for good, with nothing said.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { DistkvError } from '../../src/errors.js';
import { FakePeers, oneShardCluster, sendJson, watchError } from '../helpers/fake-peer.js';

const peers = new FakePeers();

after(() => peers.close());

describe('a watch refused by a broken or hostile node', () => {
  it('ends with the refusal after its first 64 KiB, however long the body claims to be', async () => {
    const node = await peers.start((req, res, address) => {
      if (req.url?.startsWith('/cluster') === true) {
        sendJson(res, oneShardCluster(address));
        return;
      }
      // A refusal that claims 5 GiB, sends 70 KiB of it and then nothing, the connection kept open.
      res.writeHead(400, { 'content-type': 'application/json', 'content-length': String(5 * 2 ** 30) });
      res.write(`{"error":"BAD_REQUEST","message":"${'x'.repeat(70 * 1024)}`);
    });
    const client = new DistkvClient({ urls: [`http://${node}`], timeoutMs: 2000, retries: 0 });
    const stop = AbortSignal.timeout(5000);
    try {
      const err = await watchError(client, stop);
      assert.ok(err instanceof DistkvError, `not a DistkvError: ${String(err)}`);
      assert.equal(stop.aborted, false, 'ended by the refusal, not by the time limit of the test');
    } finally {
      await client.close();
    }
  });
});
