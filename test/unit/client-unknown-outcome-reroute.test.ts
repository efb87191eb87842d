/**
 * A write whose answer was lost is not sent again (OutcomeUnknownError), but the client still
 * looks for a newer map before it gives up, as a retry would: a leader that went silent (paused,
 * cut off, dead) has usually been replaced by then, and the caller's next write must go to the
 * new leader, not to the silent node again (a load of writes then never recovered from a
 * failover: every write waited out its timeout at the old leader).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { OutcomeUnknownError } from '../../src/errors.js';
import { type HandlerTwin, oneShardView, startHandlerTwin } from '../helpers/twin-server.js';

let silent: HandlerTwin;
let fresh: HandlerTwin;
/** failedOver: the silent node dropped a write; from then on `fresh` serves a newer map naming itself. */
let failedOver = false;
const written: string[] = [];

before(async () => {
  silent = await startHandlerTwin((req, res) => {
    if (req.url === '/cluster') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(oneShardView(silent.address, 1));
      return;
    }
    // Reads the write, then goes silent: the connection drops with no answer.
    req.resume();
    req.on('end', () => {
      failedOver = true;
      req.socket.destroy();
    });
  });
  fresh = await startHandlerTwin((req, res) => {
    if (req.url === '/cluster') {
      const view = failedOver ? oneShardView(fresh.address, 2) : oneShardView(silent.address, 1);
      res.writeHead(200, { 'content-type': 'application/json' }).end(view);
      return;
    }
    written.push(`${req.method ?? ''} ${req.url ?? ''}`);
    req.resume();
    req.on('end', () => res.writeHead(204).end());
  });
});

after(async () => {
  await Promise.all([silent.stop(), fresh.stop()]);
});

describe('client after a write whose answer was lost', () => {
  it('does not resend it, and sends the next write to the leader a newer map names', async () => {
    const client = new DistkvClient({ urls: [silent.address, fresh.address], retries: 3 });
    try {
      await client.topology();
      await assert.rejects(client.put('a', '1'), (err) => err instanceof OutcomeUnknownError);
      assert.deepEqual(written, [], 'the write whose answer was lost was sent again');
      await client.put('b', '2');
      assert.deepEqual(written, ['PUT /kv/b']);
    } finally {
      await client.close();
    }
  });
});
