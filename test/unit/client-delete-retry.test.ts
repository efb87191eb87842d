/**
 * A DELETE whose answer was lost is not sent again: the first attempt may have deleted the key, and
 * a repeat would delete what another client wrote since (an acknowledged write lost), besides
 * answering "did not exist" for the key it deleted itself. It rejects with OutcomeUnknownError. The
 * twin node here deletes the key at the first attempt and drops the connection unanswered.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { OutcomeUnknownError } from '../../src/errors.js';
import { type HandlerTwin, oneShardView, startHandlerTwin } from '../helpers/twin-server.js';

let twin: HandlerTwin;
let address = '';
const keys = new Set<string>();
/** drops counts the DELETEs still to be executed and then left unanswered (their connection dropped). */
let drops = 0;

before(async () => {
  twin = await startHandlerTwin((req, res) => {
    const url = req.url ?? '';
    if (url === '/cluster') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(oneShardView(address));
      return;
    }
    const key = decodeURIComponent(url.slice('/kv/'.length));
    if (req.method === 'PUT') {
      keys.add(key);
      res.writeHead(204, { 'x-distkv-seq': '1' }).end();
      return;
    }
    const existed = keys.delete(key);
    if (drops > 0) {
      drops--;
      req.socket.destroy();
      return;
    }
    res.writeHead(204, { 'x-distkv-seq': '2', 'x-distkv-existed': existed ? '1' : '0' }).end();
  });
  address = twin.address;
});

after(async () => {
  await twin.stop();
});

describe('client delete after a lost answer', () => {
  it('answers true for a key that existed and false for one that did not, when nothing was lost', async () => {
    const client = new DistkvClient({ urls: [`http://${address}`] });
    try {
      await client.put('here', 'v');
      assert.equal(await client.delete('here'), true);
      assert.equal(await client.delete('here'), false);
    } finally {
      await client.close();
    }
  });

  it('rejects as OutcomeUnknownError without sending it again when its answer was lost', async () => {
    const client = new DistkvClient({ urls: [`http://${address}`], retries: 2 });
    try {
      await client.put('gone', 'v');
      drops = 1;
      await assert.rejects(client.delete('gone'), (err: unknown) => {
        assert.ok(err instanceof OutcomeUnknownError, String(err));
        assert.equal(err.code, 'OUTCOME_UNKNOWN');
        assert.match(err.message, /may have been applied/);
        return true;
      });
      assert.equal(client.stats.retries, 0, 'the delete was sent again');
      assert.equal(keys.has('gone'), false);
    } finally {
      drops = 0;
      await client.close();
    }
  });

  it('leaves the key another client wrote after its lost first attempt', async () => {
    const client = new DistkvClient({ urls: [`http://${address}`], retries: 2 });
    try {
      await client.put('back', 'v');
      drops = 1;
      // The first attempt deletes it; another writer puts it back, acknowledged, before any retry.
      twin.server.once('request', (req) => {
        if (req.method === 'DELETE') req.socket.once('close', () => keys.add('back'));
      });
      await assert.rejects(client.delete('back'), OutcomeUnknownError);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(keys.has('back'), true, "the other client's write was deleted by a resend");
    } finally {
      drops = 0;
      await client.close();
    }
  });
});
