/**
 * Two nodes that redirect a key to each other (they disagree about who owns it) make the client
 * give up after a few redirects with SHARD_UNREACHABLE naming the loop, as a watch does, not a
 * 500-class INTERNAL that says a bug. Twins here: A answers /cluster (the shard at A) and
 * redirects every key request to B; B redirects it back to A.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { DistkvError } from '../../src/errors.js';
import { type HandlerTwin, startHandlerTwin } from '../helpers/twin-server.js';

const twins: HandlerTwin[] = [];
let a = '';
let b = '';

before(async () => {
  const redirectTo =
    (to: () => string): Parameters<typeof startHandlerTwin>[0] =>
    (req, res) => {
      req.resume();
      if (req.url === '/cluster') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            version: 'cfg',
            map_version: 1,
            shards: [{ name: 'shard-0', idx: 0, slots: [0, 16383], leader: { address: a }, replicas: [] }],
          }),
        );
        return;
      }
      res.writeHead(307, { location: `http://${to()}${req.url ?? ''}`, 'x-distkv-config': 'cfg' }).end();
    };
  const ta = await startHandlerTwin(redirectTo(() => b));
  const tb = await startHandlerTwin(redirectTo(() => a));
  twins.push(ta, tb);
  a = ta.address;
  b = tb.address;
});

after(async () => {
  await Promise.all(twins.map((t) => t.stop()));
});

describe('client redirect loop', () => {
  it('rejects with SHARD_UNREACHABLE naming the loop, not INTERNAL', async () => {
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
