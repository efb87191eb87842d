/**
 * Requests that fail at an unreachable leader look for a newer map before each retry
 * (src/client/sender.ts, followLeader), asking every node for /cluster. They share one look at a
 * time: with many requests in flight, one look each asked every node once per request and retry,
 * a storm of /cluster requests just when the cluster fails over. Twins here: node O answers
 * /cluster (shard 0 led by a closed port) and counts the calls.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import type { DistkvError } from '../../src/errors.js';
import { freePort } from '../helpers/ports.js';
import { startTwinServer, type TwinServer } from '../helpers/twin-server.js';

const IN_FLIGHT = 200;
const RETRIES = 3;
const twins: TwinServer[] = [];
after(async () => {
  await Promise.all(twins.map((t) => t.stop()));
});

describe('client looking for a newer map', () => {
  it(`shares its looks at every node, not one per request, with ${IN_FLIGHT} requests retrying at a dead leader`, async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    const origin = await startTwinServer((url) =>
      url === '/cluster'
        ? {
            version: 'cfg',
            map_version: 1,
            shards: [{ name: 'shard-0', idx: 0, slots: [0, 16383], leader: { address: dead }, replicas: [] }],
          }
        : undefined,
    );
    twins.push(origin);
    const client = new DistkvClient({ urls: [`http://${origin.address}`], retries: RETRIES });
    try {
      await client.reload();
      const before = origin.calls.length;
      const results = await Promise.allSettled(
        Array.from({ length: IN_FLIGHT }, (_, i) => client.get(`k${i}`)),
      );
      for (const r of results) {
        assert.equal(r.status, 'rejected');
        assert.equal((r.reason as DistkvError).code, 'SHARD_UNREACHABLE');
      }
      const looks = origin.calls.length - before;
      // One look per request and retry was IN_FLIGHT * RETRIES (600 here); shared looks are a few
      // per retry round, the requests failing at slightly different instants.
      assert.ok(looks < IN_FLIGHT / 2, `${looks} /cluster requests for ${IN_FLIGHT} requests`);
    } finally {
      await client.close();
    }
  });
});
