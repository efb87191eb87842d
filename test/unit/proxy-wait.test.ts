/**
 * `--proxy` relays a `w` write for as long as its owner may hold it for its replicas' acks: the
 * write's `timeout_ms` on top of the relay's own bound. A relay cut at its own bound reported a
 * write the owner was still confirming (and then kept) as "did not answer". Twin owner here: it
 * answers a write after a delay longer than the relay's bound but within the write's timeout_ms.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Forwarder } from '../../src/http/forwarder.js';
import { relayWaitMs } from '../../src/http/proxy.js';
import { DEFAULT_W_TIMEOUT_MS } from '../../src/http/write-conditions.js';
import { type HandlerTwin, startHandlerTwin } from '../helpers/twin-server.js';

const RELAY_MS = 300;
const OWNER_DELAY_MS = 700;
let twin: HandlerTwin;
let owner = '';
const forwarder = new Forwarder('http', 'cfg', undefined, { relayMs: RELAY_MS });

before(async () => {
  twin = await startHandlerTwin((req, res) => {
    req.resume();
    req.on('end', () => {
      setTimeout(() => res.writeHead(504, { 'x-distkv-seq': '9' }).end('{"error":{}}'), OWNER_DELAY_MS);
    });
  });
  owner = twin.address;
});

after(async () => {
  await forwarder.close();
  await twin.stop();
});

describe('relaying a w write', () => {
  it("waits the write's timeout_ms on top of the relay's bound, and relays the owner's answer", async () => {
    const path = '/kv/k?w=1&timeout_ms=1000';
    const reply = await forwarder.relay(
      owner,
      'PUT',
      path,
      Buffer.from('v'),
      {},
      relayWaitMs('w=1&timeout_ms=1000'),
    );
    assert.equal(reply.status, 504);
    assert.ok(reply.headers.some(([n, v]) => n === 'x-distkv-seq' && v === '9'));
  });

  it('gives up at its own bound for a request that asks no wait', async () => {
    await assert.rejects(forwarder.relay(owner, 'GET', '/kv/k', undefined));
  });

  it('reads the wait from the query as the owner will: timeout_ms with w, the default without, none without w', () => {
    assert.equal(relayWaitMs('w=1&timeout_ms=1000'), 1000);
    assert.equal(relayWaitMs('timeout_ms=1000&w=2'), 1000);
    assert.equal(relayWaitMs('w=1'), DEFAULT_W_TIMEOUT_MS);
    assert.equal(relayWaitMs('w=0&timeout_ms=1000'), 0);
    assert.equal(relayWaitMs('ttl_ms=5'), 0);
    assert.equal(relayWaitMs(''), 0);
    assert.equal(relayWaitMs('w=1&timeout_ms=99999999'), 600000);
  });
});
