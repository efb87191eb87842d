/**
 * A batch spread over two owners, one of which takes its part and drops the connection
 * unanswered: the client resolves with every result, the reachable owner's applied operations as
 * such and the other's as OUTCOME_UNKNOWN saying they may have been applied. It used to reject
 * the whole batch, hiding that the first owner had applied its part. Twins here: A answers
 * /cluster and its batches; B reads its batch and drops the connection.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { slotOf } from '../../src/routing/slot.js';
import { type HandlerTwin, startHandlerTwin } from '../helpers/twin-server.js';

const twins: HandlerTwin[] = [];
let a = '';
let b = '';
let bBatches = 0;

async function listen(handler: Parameters<typeof startHandlerTwin>[0]): Promise<string> {
  const twin = await startHandlerTwin(handler);
  twins.push(twin);
  return twin.address;
}

/** keyIn returns a key whose slot is in the first half (shard 0) or the second (shard 1). */
function keyIn(shard: 0 | 1, name: string): string {
  for (let i = 0; ; i++) if (Math.floor(slotOf(`${name}${i}`) / 8192) === shard) return `${name}${i}`;
}

before(async () => {
  a = await listen((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      if (req.url === '/cluster') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            version: 'cfg',
            map_version: 1,
            shards: [
              { name: 'shard-0', idx: 0, slots: [0, 8191], leader: { address: a }, replicas: [] },
              { name: 'shard-1', idx: 1, slots: [8192, 16383], leader: { address: b }, replicas: [] },
            ],
          }),
        );
        return;
      }
      const ops = JSON.parse(body) as unknown[];
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ results: ops.map(() => ({ ok: true })), errors: 0 }));
    });
  });
  b = await listen((req) => {
    req.resume();
    req.on('end', () => {
      // The client asks every node for a newer map after a lost answer: only batches count.
      if (req.url !== '/cluster') bBatches++;
      req.socket.destroy();
    });
  });
});

after(async () => {
  await Promise.all(twins.map((t) => t.stop()));
});

describe('client batch with an owner lost', () => {
  it("resolves with the reachable owner's results, and the lost owner's operations as maybe applied", async () => {
    const client = new DistkvClient({ urls: [`http://${a}`] });
    try {
      const results = await client.batch([
        { op: 'set', key: keyIn(0, 'a'), value: '1' },
        { op: 'set', key: keyIn(1, 'b'), value: '2' },
        { op: 'delete', key: keyIn(0, 'c') },
      ]);
      assert.equal(bBatches, 1, 'B got its part once (a batch is not retried)');
      assert.deepEqual(results[0], { ok: true });
      assert.deepEqual(results[2], { ok: true });
      const lost = results[1]!;
      assert.ok(!lost.ok);
      assert.equal(lost.error.code, 'OUTCOME_UNKNOWN');
      assert.match(lost.error.message, /may have been applied/);
    } finally {
      await client.close();
    }
  });
});
