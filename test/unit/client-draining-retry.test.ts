/**
 * A node that answers 503 DRAINING or STARTING is stopping or starting and refused the request
 * before running it (src/http/route.ts), as one that answers SLOTS_DISPUTED or FORWARD_EXPIRED
 * did: the client looks for a newer map and sends it again, conditional writes and
 * batches too, within its retries. UNAVAILABLE may come after a worker died with the request in
 * flight, so only a call that may be repeated is sent again after it. Twins here: A answers
 * /cluster (shard 0 at A, at B once A has refused a request) and refuses every key request; B
 * takes them.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, beforeEach, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { DistkvError } from '../../src/errors.js';
import { type HandlerTwin, startHandlerTwin } from '../helpers/twin-server.js';

const twins: HandlerTwin[] = [];
after(async () => {
  await Promise.all(twins.map((t) => t.stop()));
});

/** view is a one-shard /cluster document with its leader at `leader`, in live map `version`. */
function view(leader: string, version: number): string {
  return JSON.stringify({
    version: 'cfg',
    map_version: version,
    shards: [{ name: 'shard-0', idx: 0, slots: [0, 16383], leader: { address: leader }, replicas: [] }],
  });
}

let refusal = 'DRAINING';
let refused = 0;
let taken: string[] = [];
let a = '';
let b = '';

beforeEach(async () => {
  refused = 0;
  taken = [];
  const tb = await startHandlerTwin((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      taken.push(`${req.method} ${req.url}`);
      if (req.url === '/kv/_batch')
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ results: [{ ok: true, version: '1.2' }] }));
      else res.writeHead(200, { etag: '"1.2"', 'content-type': 'application/octet-stream' }).end('v');
    });
  });
  const ta = await startHandlerTwin((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    if (req.url === '/cluster') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(refused > 0 ? view(b, 2) : view(a, 1));
      return;
    }
    refused++;
    res
      .writeHead(503, { 'content-type': 'application/json' })
      .end(JSON.stringify({ error: { code: refusal, message: `${refusal} twin` } }));
  });
  twins.push(ta, tb);
  a = ta.address;
  b = tb.address;
});

async function withClient<T>(f: (c: DistkvClient) => Promise<T>): Promise<T> {
  const client = new DistkvClient({ urls: [`http://${a}`] });
  try {
    return await f(client);
  } finally {
    await client.close();
  }
}

describe('client retry of a refused request', () => {
  // STARTING: the node's stores are not open yet (route.ts), nothing ran; SLOTS_DISPUTED: a peer's
  // config gives the slot another leader (slot-gate.ts), refused before routing; FORWARD_EXPIRED:
  // a forwarded write past its deadline, not applied.
  for (const code of ['DRAINING', 'STARTING', 'SLOTS_DISPUTED', 'FORWARD_EXPIRED']) {
    it(`sends a conditional write refused with ${code} again, to the leader a newer map names`, async () => {
      refusal = code;
      const version = await withClient((c) => c.putVersioned('k', 'v', { ifMatch: '1.1' }));
      assert.equal(version, '1.2');
      assert.equal(refused, 1);
      assert.deepEqual(taken, ['PUT /kv/k']);
    });

    it(`sends a batch refused with ${code} again`, async () => {
      refusal = code;
      const results = await withClient((c) => c.batch([{ op: 'set', key: 'k', value: 'v' }]));
      assert.equal(results[0]?.ok, true);
      assert.deepEqual(taken, ['POST /kv/_batch']);
    });
  }

  it('sends a read refused with UNAVAILABLE again', async () => {
    refusal = 'UNAVAILABLE';
    const value = await withClient((c) => c.getString('k'));
    assert.equal(value, 'v');
    assert.deepEqual(taken, ['GET /kv/k']);
  });

  it('does not send a conditional write refused with UNAVAILABLE again (it may have run)', async () => {
    refusal = 'UNAVAILABLE';
    await withClient((c) =>
      assert.rejects(c.put('k', 'v', { ifMatch: '1.1' }), (err: unknown) => {
        assert.ok(err instanceof DistkvError);
        assert.equal(err.code, 'UNAVAILABLE');
        return true;
      }),
    );
    assert.equal(refused, 1);
    assert.deepEqual(taken, []);
  });
});
