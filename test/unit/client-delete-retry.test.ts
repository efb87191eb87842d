/**
 * A DELETE the client retried after its answer was lost says so: the first attempt may have
 * deleted the key, so the retry's "did not exist" (X-Distkv-Existed: 0) is no answer to whether it
 * existed. The twin node here deletes the key at the first attempt and drops the connection
 * unanswered; the retry then finds the key gone.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { type HandlerTwin, startHandlerTwin } from '../helpers/twin-server.js';

let twin: HandlerTwin;
let address = '';
const keys = new Set<string>();
/** drops counts the DELETEs still to be executed and then left unanswered (their connection dropped). */
let drops = 0;

before(async () => {
  twin = await startHandlerTwin((req, res) => {
    const url = req.url ?? '';
    if (url === '/cluster') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          version: 'cfg',
          map_version: 1,
          shards: [{ name: 'shard-0', idx: 0, slots: [0, 16383], leader: { address }, replicas: [] }],
        }),
      );
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

  it('does not say "did not exist" for a key its own lost first attempt deleted', async () => {
    const client = new DistkvClient({ urls: [`http://${address}`], retries: 2 });
    try {
      await client.put('gone', 'v');
      drops = 1;
      const existed = await client.delete('gone');
      assert.equal(client.stats.retries, 1, 'the delete was sent twice');
      assert.equal(keys.has('gone'), false);
      assert.equal(existed, undefined, 'whether it existed is unknown, not false');
    } finally {
      drops = 0;
      await client.close();
    }
  });

  it('still says true when the retry finds the key there', async () => {
    const client = new DistkvClient({ urls: [`http://${address}`], retries: 2 });
    try {
      await client.put('back', 'v');
      drops = 1;
      // The first attempt deletes it; a writer puts it back before the retry.
      twin.server.once('request', (req) => {
        if (req.method === 'DELETE') req.socket.once('close', () => keys.add('back'));
      });
      assert.equal(await client.delete('back'), true);
    } finally {
      drops = 0;
      await client.close();
    }
  });
});
