/**
 * A seed `/set` or `/get` refused before it runs (503 SWITCHING_LEADER while a failover fences the
 * shard's leader, or while a leader has no lease; 503 SLOTS_DISPUTED) answers in Go's http.Error
 * text, as the seed endpoints' other errors (docs/api.md), keeping Retry-After and X-Distkv-Map.
 * Before, these were the native API's JSON error.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ShardMap } from '../../src/routing/shard-map.js';
import { keyInShard, startHostedPair } from '../helpers/hosted-pair.js';

let A = '';
let shardMap: ShardMap;
let stop = (): Promise<void> => Promise.resolve();

before(async () => {
  ({ A, shardMap, stop } = await startHostedPair());
});

after(() => stop());

async function fence(on: 0 | 1): Promise<void> {
  const r = await fetch(`http://${A}/_admin/fence?shard=0&on=${on}&ms=60000&by=seed-refusals`, {
    method: 'POST',
  });
  assert.equal(r.status, 200, await r.text());
}

describe('seed endpoints refused during a switch of leader', () => {
  it('answer 503 in text with Retry-After, and the native API in JSON', async () => {
    const key = keyInShard(shardMap, 0, 'fenced');
    await fence(1);
    try {
      const r = await fetch(`http://${A}/set?key=${key}&value=v`);
      assert.equal(r.status, 503);
      assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8');
      assert.equal(r.headers.get('retry-after'), '1');
      assert.ok(r.headers.get('x-distkv-map'), 'the live map version is sent');
      assert.equal(await r.text(), "Failed to set key: shard 0's leader is being switched; retry shortly\n");
      const rest = await fetch(`http://${A}/kv/${key}`, { method: 'PUT', body: 'v' });
      assert.equal(rest.status, 503);
      assert.equal(rest.headers.get('content-type'), 'application/json');
      assert.equal(((await rest.json()) as { error: { code: string } }).error.code, 'SWITCHING_LEADER');
    } finally {
      await fence(0);
    }
    const r = await fetch(`http://${A}/set?key=${key}&value=v`);
    assert.equal(r.status, 200, 'writes go on once the fence is released');
  });
});
