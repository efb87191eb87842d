/**
 * A DistkvClient's close() is final for the work already running when it is called: a topology
 * load in flight asks no further node, and the call it was loading for does not send its request,
 * whatever the load ends with. Both used to open a new keep-alive connection after close(): the
 * load asked the next configured node once the first one failed, and a request routed by a view
 * the load adopted reopened the pool of its node, left open since the pools were already closed.
 *
 * `first` is the first configured node: it holds its /cluster answer until the test releases it
 * (after close() was called); `second` is a one-shard node that counts its connections.
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DistkvClient } from '../../src/client/client.js';
import { DistkvError } from '../../src/errors.js';
import {
  type HandlerTwin,
  oneShardView,
  startHandlerTwin,
  startOneShardTwin,
} from '../helpers/twin-server.js';

let first: HandlerTwin;
let second: HandlerTwin;
let secondConnections = 0;
let held: ServerResponse | undefined;

before(async () => {
  first = await startHandlerTwin((req, res) => {
    req.resume();
    if (req.url === '/cluster') held = res;
    else res.writeHead(204).end();
  });
  second = await startOneShardTwin((req, res) => {
    req.resume().on('end', () => res.writeHead(200, { etag: '"1.2"' }).end('v'));
  });
  second.server.on('connection', () => secondConnections++);
});
after(async () => {
  await first.stop();
  await second.stop();
});

/** waitFor polls `cond` every 10 ms for up to 10 s. */
async function waitFor(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await sleep(10);
  assert.ok(cond(), `timed out waiting for ${what}`);
}

/**
 * closeDuringLoad starts a get whose topology load waits for `first`, closes the client, then has
 * `first` answer with `status` and `body`; resolves with the get's rejection once close() is done.
 */
async function closeDuringLoad(status: number, body: string): Promise<unknown> {
  held = undefined;
  const client = new DistkvClient({ urls: [first.address, second.address] });
  const got = client.get('k').then(
    () => assert.fail('the get was answered after close()'),
    (err: unknown) => err,
  );
  await waitFor(() => held !== undefined, "the load's /cluster to reach the first node");
  const closing = client.close();
  held!.writeHead(status, { 'content-type': 'application/json' }).end(body);
  await closing;
  return got;
}

/** isClosedRefusal checks a rejection is CLIENT_CLOSED. */
function assertClosedRefusal(err: unknown): void {
  assert.ok(err instanceof DistkvError, String(err));
  assert.equal(err.code, 'CLIENT_CLOSED', err.message);
}

describe('DistkvClient.close() during a topology load', () => {
  it('asks no further node when the node it waited for fails after close()', async () => {
    const seen = secondConnections;
    const err = await closeDuringLoad(
      503,
      JSON.stringify({ error: { code: 'STARTING', message: 'starting' } }),
    );
    assertClosedRefusal(err);
    assert.equal(secondConnections, seen, 'the load asked the next node after close()');
  });

  it('sends nothing on the view it adopts after close()', async () => {
    const seen = secondConnections;
    // The first node names the second as the shard's leader: the get would go there.
    const err = await closeDuringLoad(200, oneShardView(second.address));
    assertClosedRefusal(err);
    assert.equal(secondConnections, seen, 'the get opened a connection to the leader after close()');
  });
});
