/**
 * Two nodes that redirect a key to each other disagree about who owns it, as they may for a
 * moment during a failover (a node learns the new map at its next peer poll): the client waits,
 * looks for a newer map and starts over, and gives up only when the loop lasts (5 s) with
 * SHARD_UNREACHABLE naming the loop, as a watch does, not a 500-class INTERNAL that says a bug.
 * Twins here: A answers /cluster (the shard at A, B its replica: a client follows a redirect only
 * to a node of the map) and redirects every key request to B; B
 * redirects it back to A until `agreeAt`, then answers it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { DistkvError } from '../../src/errors.js';
import { type HandlerTwin, startHandlerTwin } from '../helpers/twin-server.js';

const twins: HandlerTwin[] = [];
let a = '';
let b = '';
let agreeAt = Infinity;

before(async () => {
  const redirectTo =
    (to: () => string, agrees: () => boolean): Parameters<typeof startHandlerTwin>[0] =>
    (req, res) => {
      req.resume();
      if (req.url === '/cluster') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            version: 'cfg',
            map_version: 1,
            shards: [
              {
                name: 'shard-0',
                idx: 0,
                slots: [0, 16383],
                leader: { address: a },
                replicas: [{ address: b }],
              },
            ],
          }),
        );
        return;
      }
      if (agrees()) {
        res.writeHead(200, { etag: '"1.1"', 'content-type': 'application/octet-stream' }).end('v');
        return;
      }
      res.writeHead(307, { location: `http://${to()}${req.url ?? ''}`, 'x-distkv-config': 'cfg' }).end();
    };
  const ta = await startHandlerTwin(
    redirectTo(
      () => b,
      () => false,
    ),
  );
  const tb = await startHandlerTwin(
    redirectTo(
      () => a,
      () => performance.now() >= agreeAt,
    ),
  );
  twins.push(ta, tb);
  a = ta.address;
  b = tb.address;
});

after(async () => {
  await Promise.all(twins.map((t) => t.stop()));
});

describe('client redirect loop', () => {
  it('rides out nodes that disagree for a few hundred ms', async () => {
    agreeAt = performance.now() + 400;
    const client = new DistkvClient({ urls: [`http://${a}`] });
    try {
      assert.equal(await client.getString('k'), 'v');
    } finally {
      await client.close();
    }
  });

  it('rejects a loop that lasts with SHARD_UNREACHABLE naming the loop, not INTERNAL', async () => {
    agreeAt = Infinity;
    const client = new DistkvClient({ urls: [`http://${a}`] });
    try {
      await assert.rejects(client.get('k'), (err: unknown) => {
        assert.ok(err instanceof DistkvError);
        assert.equal(err.code, 'SHARD_UNREACHABLE');
        assert.match(err.message, /redirected more than 5 times/);
        return true;
      });
    } finally {
      await client.close();
    }
  });
});
