/**
 * The client library reads leaders only (without `replicaReads`): a key read sent to the node its
 * map names as leader that a replica answers (X-Distkv-Lag: the node follows a newer leader after
 * a failover) is not returned; the client looks for the newest map and reads the leader it names
 * (src/client/sender.ts). Twins: A answers as a replica once "moved" (its /cluster then names
 * B in map 2), B as the leader. Before, `get` returned A's replica answer, older than B's.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import type { DistkvError } from '../../src/errors.js';
import { type HandlerTwin, oneShardView, startHandlerTwin } from '../helpers/twin-server.js';

const twins: HandlerTwin[] = [];
const clients: DistkvClient[] = [];
after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(twins.map((t) => t.stop()));
});

/** node is a twin that answers /cluster with `view()` and a key read with `read()`. */
async function node(
  view: () => string,
  read: () => { body: string; etag: string; lag?: string },
): Promise<HandlerTwin> {
  const t = await startHandlerTwin((req: IncomingMessage, res: ServerResponse) => {
    req.resume().on('end', () => {
      if (req.url === '/cluster') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(view());
        return;
      }
      const r = read();
      res
        .writeHead(200, {
          'content-type': 'application/octet-stream',
          etag: `"${r.etag}"`,
          ...(r.lag === undefined ? {} : { 'x-distkv-lag': r.lag }),
        })
        .end(r.body);
    });
  });
  twins.push(t);
  return t;
}

describe('a key read that a replica answered though sent to the leader', () => {
  it('is read again at the leader the newest map names', async () => {
    let moved = false;
    let leader = '';
    const a = await node(
      () => (moved ? oneShardView(leader, 2) : oneShardView(a.address, 1)),
      () => (moved ? { body: 'old', etag: '0.1', lag: 'held' } : { body: 'old', etag: '0.1' }),
    );
    const b = await node(
      () => oneShardView(leader, 2),
      () => ({ body: 'new', etag: '5.2' }),
    );
    leader = b.address;
    const client = new DistkvClient({ urls: [`http://${a.address}`] });
    clients.push(client);
    assert.equal((await client.get('k'))?.toString(), 'old');
    moved = true;
    const got = await client.getVersioned('k');
    assert.deepEqual([got?.value.toString(), got?.version, got?.lag], ['new', '5.2', undefined]);
    assert.equal(client.liveMapVersion, 2);
  });

  it('is refused (SWITCHING_LEADER) when only replicas answer it, never returned', async () => {
    const a = await node(
      () => oneShardView(a.address, 1),
      () => ({ body: 'old', etag: '0.1', lag: 'held' }),
    );
    const client = new DistkvClient({ urls: [`http://${a.address}`] });
    clients.push(client);
    const err = (await client.get('k').then(
      () => undefined,
      (e: unknown) => e,
    )) as DistkvError | undefined;
    assert.equal(err?.code, 'SWITCHING_LEADER', String(err));
  });
});
