/**
 * A request refused with 503 DRAINING is waited out as a leader switch is (src/client/sender.ts),
 * up to `switchWaitMs`. With etcd, a stopping leader holds its shards' writes for up to 2 s while a
 * replica catches up (src/server/drain-handover.ts), then gives its lease up and the replica takes
 * over: the client's three quick retries (350 ms) gave up inside that window, and a rolling restart
 * under load showed DRAINING errors to the application. Twins: A refuses every key request with
 * DRAINING and names itself leader for DRAIN_MS, then names B; B takes the requests.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import type { WaitNotice } from '../../src/client/types.js';
import { DistkvError } from '../../src/errors.js';
import { type HandlerTwin, startHandlerTwin } from '../helpers/twin-server.js';

/** DRAIN_MS is how long A drains before its map names B (the handover's 2 s, shortened). */
const DRAIN_MS = 1200;

/** view is a one-shard /cluster document with its leader at `leader`, in live map `version`. */
function view(leader: string, version: number): string {
  return JSON.stringify({
    version: 'cfg',
    map_version: version,
    shards: [{ name: 'shard-0', idx: 0, slots: [0, 16383], leader: { address: leader }, replicas: [] }],
  });
}

describe('a request refused by a draining leader', () => {
  let a: HandlerTwin;
  let b: HandlerTwin;
  let drainingSince = 0;
  let refused = 0;
  const taken: string[] = [];

  before(async () => {
    b = await startHandlerTwin((req: IncomingMessage, res: ServerResponse) => {
      req.resume();
      req.on('end', () => {
        taken.push(`${req.method} ${req.url}`);
        if (req.url === '/cluster')
          res.writeHead(200, { 'content-type': 'application/json' }).end(view(b.address, 2));
        else res.writeHead(204, { etag: '"1.2"' }).end();
      });
    });
    a = await startHandlerTwin((req: IncomingMessage, res: ServerResponse) => {
      req.resume();
      const handedOver = drainingSince > 0 && performance.now() - drainingSince > DRAIN_MS;
      if (req.url === '/cluster') {
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(handedOver ? view(b.address, 2) : view(a.address, 1));
        return;
      }
      if (drainingSince === 0) drainingSince = performance.now();
      refused++;
      res
        .writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' })
        .end(JSON.stringify({ error: { code: 'DRAINING', message: 'the node is shutting down' } }));
    });
  });

  after(async () => {
    await a.stop();
    await b.stop();
  });

  it('waits for the shard to move, then writes at its new leader', async () => {
    const notices: WaitNotice[] = [];
    const client = new DistkvClient({ urls: [`http://${a.address}`], onWait: (n) => notices.push(n) });
    try {
      await client.put('k', 'v');
    } finally {
      await client.close();
    }
    assert.deepEqual(
      taken.filter((t) => t !== 'GET /cluster'),
      ['PUT /kv/k'],
    );
    assert.ok(refused > 4, `A refused it more than the retries allow (${refused} times)`);
    assert.deepEqual(
      notices.map((n) => n.code),
      ['DRAINING'],
    );
  });

  it('fails with DRAINING once switchWaitMs has passed', async () => {
    drainingSince = performance.now() + 60_000; // A keeps naming itself
    const client = new DistkvClient({ urls: [`http://${a.address}`], switchWaitMs: 500 });
    try {
      const t0 = performance.now();
      await assert.rejects(client.put('k2', 'v'), (err: unknown) => {
        assert.ok(err instanceof DistkvError, String(err));
        assert.equal(err.code, 'DRAINING');
        return true;
      });
      assert.ok(performance.now() - t0 >= 450, 'it waited about switchWaitMs');
    } finally {
      await client.close();
    }
  });
});
